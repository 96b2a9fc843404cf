/*
 * tail.h: `rowcast tail`, a Kafka consumer that prints rowcast's messages as canonical JSON
 * lines (docs/json-mapping.md), whatever their wire format: Avro single-object (schemas from
 * the <prefix>._schemas topic), Confluent (schemas from schema_registry.url) or plain JSON.
 */
#ifndef RC_TAIL_H
#define RC_TAIL_H

int rc_cmd_tail(int argc, char **argv);

#endif
