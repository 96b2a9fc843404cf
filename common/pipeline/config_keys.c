/*
 * config_keys.c: the key table of rowcast's configuration: every key's name, type, default,
 * bounds and help (config_int.h says what a field means). config.c checks, stores and prints
 * values from it; `rowcast config --help` and docs/CONFIGURATION.md are generated from it.
 *
 * To add a key: one line in rc_config_keys[] below (keep keys of a section together), and bump
 * RC_CONFIG_NKEYS in config_int.h. Its default is written as a user would write it and goes
 * through the same checks as user input when rc_config_new() runs (a default that fails them
 * aborts: the table is broken). Regenerate docs/CONFIGURATION.md with gen_config_doc
 * (test_config fails until you do).
 */
#include "config_int.h"
#include "filter.h"

const key_def rc_config_keys[] = {
    {"source.host", KT_STRING, "127.0.0.1", 0, 255, NULL,
     "The MySQL or MariaDB server rowcast run streams from (rowcast replay reads files and "
     "ignores the source.* keys)."},
    {"source.port", KT_INT, "3306", 1, 65535, NULL, "Its TCP port."},
    {"source.socket", KT_STRING, "", 0, 107, NULL,
     "A Unix socket to connect through instead of host and port (same machine)."},
    {"source.user", KT_STRING, "rowcast", 1, 128, NULL,
     "The user rowcast connects as. It needs REPLICATION SLAVE and REPLICATION CLIENT (MariaDB "
     "10.5+: REPLICATION SLAVE and BINLOG MONITOR), and SELECT on the tables it streams for the "
     "information_schema lookup (README: Running on a live server)."},
    {"source.password", KT_STRING, "", 0, 1024, NULL,
     "Its password. rowcast never writes it to a log line, stats.json or a process's command "
     "line (a -o source.password=... given to rowcast is blanked in its own command line once "
     "read, but other users may see it before that: prefer the alternatives). Instead of "
     "it: source.password_file, or the environment variable ROWCAST_SOURCE_PASSWORD. "
     "Precedence: source.password and source.password_file together are refused; the "
     "environment variable is used only when neither is set. rowcast warns when a config file "
     "that holds a password can be read by its group or others."},
    {"source.password_file", KT_STRING, "", 0, 4000, NULL,
     "A file holding the password (its whole content, a trailing newline removed), read at "
     "each connection, so a rotated password is picked up at the next reconnection. It must "
     "be readable at start (rowcast exits with status 2 naming it otherwise) and should be "
     "readable by rowcast's user only (rowcast warns otherwise): chmod 600."},
    {"source.tls", KT_ENUM, "preferred", 0, 0,
     "disabled|preferred|required|verify_ca|verify_identity",
     "TLS on every connection to the source (the binlog dump, the information_schema lookups, "
     "the pre-flight checks). disabled: never. preferred: when the server offers it, without "
     "checking its certificate (a warning says when a server reached over TCP does not). "
     "required: always, refusing a server without TLS, certificate not checked. verify_ca: "
     "required, and the server's certificate must be signed by source.tls_ca. "
     "verify_identity: verify_ca, and the certificate must also name source.host (its "
     "subject alternative names or common name); without source.tls_ca the system's trusted "
     "CAs are used. A refused server stops rowcast with exit status 2 (not a restart loop). "
     "With required and verify_ca, Connector/C finishes the login before rowcast sees that "
     "the server offered no TLS: the login is a challenge-response, never the password in "
     "clear, and rowcast then disconnects; verify_identity refuses before the login."},
    {"source.tls_ca", KT_STRING, "", 0, 4000, NULL,
     "A PEM file of the CA certificates that may sign the server's certificate: needed by "
     "verify_ca, optional with verify_identity, refused with the other modes (they do not "
     "check the certificate)."},
    {"source.tls_cert", KT_STRING, "", 0, 4000, NULL,
     "A PEM client certificate, for a server account that requires one (REQUIRE X509 or "
     "SUBJECT); set with source.tls_key."},
    {"source.tls_key", KT_STRING, "", 0, 4000, NULL,
     "The PEM private key of source.tls_cert. Every source.tls_* file is checked readable at "
     "start: rowcast exits with status 2 naming the file otherwise."},
    {"source.server_id", KT_INT, "0", 0, 4294967295LL, NULL,
     "The replica server id rowcast uses: unique among the server's replicas (a clash makes "
     "the server drop the other replica's connection). 0: not set; rowcast run refuses to "
     "start until it is."},
    {"source.start", KT_STRING, "earliest", 1, 4096, NULL,
     "Where to start when there is no checkpoint: earliest (the oldest binlog the server has), "
     "latest (only changes from now on), FILE:POS (a binlog file and the position of a "
     "transaction's first event), or a MariaDB GTID position (domain-server-seq, comma "
     "separated). A checkpoint, when present, wins; the log says which was used. A MySQL GTID "
     "set (uuid:1-100,uuid:tag:1-5) is refused: MariaDB Connector/C's replication API has no "
     "COM_BINLOG_DUMP_GTID; give the FILE:POS of the transaction instead."},
    {"source.gtid_resume", KT_BOOL, "false", 0, 1, NULL,
     "Resume a checkpoint by its GTID state (the gtid= line: the last GTID per domain of the "
     "acknowledged changes) instead of its file and position, the way a MariaDB replica "
     "connects (@slave_connect_state): for a resume against another server of the "
     "replication topology after a failover (it must have log_slave_updates and the GTIDs in "
     "its binlogs). MariaDB only; with a MySQL source it is refused. A reconnection to the "
     "same server still resumes by file and position."},
    {"source.heartbeat_ms", KT_MS, "500", 10, 60000, NULL,
     "How often the server sends a heartbeat when it has nothing to send: how soon rowcast "
     "notices a dead connection, and the lag it can report on an idle server."},
    {"source.reconnect_max_ms", KT_MS, "30000", 100, 3600000, NULL,
     "The longest wait between two reconnection attempts; the wait doubles from 100 ms up to "
     "this while the server stays away."},
    {"source.connect_timeout_ms", KT_MS, "5000", 100, 600000, NULL,
     "How long one connection attempt may take."},

    {"snapshot.mode", KT_ENUM, "initial", 0, 0, "initial|never|always|initial_only",
     "rowcast run only. initial: when the state dir has no checkpoint yet, first send every "
     "row the tables of snapshot.tables already hold (op r), merged with the stream, then "
     "stream on; never: stream only; always: a snapshot at every start of rowcast run, even "
     "with a checkpoint (a restart after a crash resumes the snapshot in progress instead); "
     "initial_only: the snapshot, then stop (the checkpoint is then where a later run streams "
     "on from). See docs/snapshots.md."},
    {"snapshot.tables", KT_STRING, "*.*", 1, 4096, NULL,
     "The tables a snapshot reads: comma-separated DB.TABLE patterns, the syntax of "
     "filter.include (each part matched on its own with * ? [...]), e.g. shop.*,crm.customer. "
     "Tables that filter.include / filter.exclude leave out are not read either; the system "
     "schemas (mysql, sys, information_schema, performance_schema) never are."},
    {"snapshot.chunk_rows", KT_INT, "10000", 1, 1000000, NULL,
     "Rows per chunk: a table with a primary key is read in chunks of this many rows in key "
     "order, each in its own consistent snapshot. A chunk is held in the reader's memory until "
     "the stream reaches its position: this bounds the memory a snapshot takes. A table without "
     "a primary key is read in one snapshot and spooled to disk in pieces of this many rows."},

    {"snapshot.position", KT_ENUM, "auto", 0, 0, "auto|binlog_snapshot|read_lock",
     "How each chunk's binlog position is found. binlog_snapshot: MariaDB's "
     "binlog_snapshot_file/_position of the chunk's consistent snapshot, no lock; read_lock: "
     "a brief FLUSH TABLES WITH READ LOCK per chunk while the consistent snapshot opens and "
     "SHOW MASTER STATUS gives the position (needs RELOAD; without it, LOCK TABLES on the "
     "table while the chunk is read, which needs LOCK TABLES); auto: binlog_snapshot on "
     "MariaDB, read_lock on MySQL. See docs/snapshots.md."},

    {"batch.max_changes", KT_INT, "1000", 1, 1000000, NULL,
     "A batch closes when it holds this many changes (inserted, updated or deleted rows). "
     "Bigger batches mean fewer messages between stages, and more memory and latency per "
     "batch."},
    {"batch.max_ms", KT_MS, "1000", 1, 60000, NULL,
     "A batch also closes this long after its first change, and at once when the source has "
     "nothing more to give: a quiet server sees its changes within milliseconds, a busy one "
     "fills whole batches."},

    {"serializer.workers", KT_INT, "auto", 1, 64, AUTO,
     "How many serializer processes decode rows and encode Kafka messages. auto: the CPUs "
     "online less the two that the reader and the publisher each keep busy at full speed, at "
     "least 2 and at most 4 (2 on a machine of up to 4 cores). A worker costs about 0.5 µs of "
     "CPU per change, so 2 keep up with one reader on most tables; more help with wide rows, "
     "JSON or text in other charsets (watch the serializers' CPU time in the replay summary or "
     "rowcast stats). Give a number to fix it."},
    {"serializer.format", KT_ENUM, "avro", 0, 0, "avro|json",
     "How each change is encoded in its Kafka message. avro: Avro binary with one schema per "
     "table version, lossless for every MySQL type (docs/avro.md); each message starts with "
     "the Avro single-object header (C3 01 and the schema's fingerprint) and every schema is "
     "published to the topic <publisher.topic_prefix>._schemas before its first use, or, with "
     "schema_registry.url, with the Confluent header (0 and the registry's schema id). json: "
     "rowcast's canonical JSON (docs/json-mapping.md), the line rowcast decode prints."},
    {"schema_registry.url", KT_STRING, "", 0, 2000, NULL,
     "A Confluent-compatible schema registry (http://host:port). When set, Avro schemas are "
     "registered there under the subjects <topic>-key and <topic>-value, and messages carry "
     "the registry's schema id (Confluent wire format) instead of the fingerprint. A registry "
     "that cannot be reached (refused, timeout, 5xx) is waited for: the pipeline pauses, retries "
     "with a backoff up to 5 s and logs it, then goes on with nothing lost or repeated. A "
     "registry that refuses a schema (4xx) stops rowcast with exit status 2. Empty: "
     "schemas go to the <publisher.topic_prefix>._schemas topic."},

    {"filter.include", KT_STRING, "", 0, 4000, NULL,
     "The tables to stream, as comma-separated DB.TABLE patterns with shell wildcards (fnmatch: "
     "* any run of characters, ? one character, [...] a class; each part matched on its own, "
     "case-sensitively, so * never crosses the dot): shop.*, *.orders, app?.t_*. Empty: every "
     "table. The reader drops the changes of other tables at their table map, before decoding "
     "them (counted as filtered in rowcast stats); their transactions still move the "
     "checkpoint on. Same syntax for every key that names tables (README: Filters)."},
    {"filter.exclude", KT_STRING, "", 0, 4000, NULL,
     "Tables not to stream, DB.TABLE patterns as for filter.include; a table matched by both "
     "is excluded."},
    {"filter.exclude_columns", KT_STRING, "", 0, 4000, NULL,
     "Columns to leave out, as comma-separated DB.TABLE.COLUMN patterns (the same wildcards): "
     "the column is absent from every message and from the Avro schema. A primary-key column "
     "cannot be excluded: rowcast stops with exit status 2 at the first change of such a "
     "table, naming the column (mask it instead)."},
    {"filter.mask_columns", KT_STRING, "", 0, 4000, NULL,
     "Columns whose values are replaced by a keyed hash, DB.TABLE.COLUMN patterns: the "
     "HMAC-SHA256 (key from filter.mask_key_file) of the value as rowcast's JSON shows it (a "
     "string's UTF-8 text without quotes, any other value its JSON text), as 64 lowercase hex "
     "digits; NULL stays NULL. The Avro field becomes a string (rowcast.masked in the schema). "
     "A masked primary-key column is masked in the message key too, so a row keeps one key "
     "and one partition. A column matched by filter.exclude_columns too is excluded."},
    {"filter.mask_key_file", KT_STRING, "", 0, 4000, NULL,
     "The file holding the key of filter.mask_columns (its bytes, one trailing newline "
     "dropped; at most 4096), read at start: the key never appears on a command line or in a "
     "log. Required when filter.mask_columns is set; keep it readable by rowcast only."},

    {"publisher.topic_prefix", KT_STRING, "rowcast", 1, 119, NAME_CHARS,
     "The start of the name of every topic rowcast writes to, followed by the database and "
     "table names (prefix.database.table). Only the characters Kafka allows in topic names, "
     "and at most 119 of them, so that a topic name stays within Kafka's 249 characters even "
     "for 64-character database and table names."},
    {"publisher.headers", KT_BOOL, "false", 0, 1, NULL,
     "Also put each change's position in Kafka message headers: rowcast.file, rowcast.offset, "
     "rowcast.row and rowcast.gtid (when the transaction has one). The message value always "
     "carries the same position (source in Avro, pos in JSON); headers let a consumer route or "
     "filter without decoding the value, and cost about as much producer CPU again per "
     "message."},
    {"publisher.tombstones", KT_BOOL, "false", 0, 1, NULL,
     "After each delete, also send a tombstone: a message with the same key, a null value and "
     "the delete's position in headers (rowcast.file, rowcast.offset, rowcast.row, "
     "rowcast.tombstone), to the same topic and partition, so that a compacted topic forgets "
     "the deleted row (Kafka's log compaction convention). Changes of tables without a known "
     "primary key have no key and get no tombstone."},
    {"publisher.transactions_topic", KT_STRING, "", 0, 249, NAME_CHARS,
     "A topic for transaction boundaries (e.g. rowcast._transactions); empty: off. When set, "
     "every transaction that changes rows gets a BEGIN and an END message there, keyed by the "
     "transaction id (its GTID, else FILE:POS of its first event), with its binlog position, "
     "commit time and, at END, the number of changes per table; and every change's value "
     "carries its transaction's id and its order in it (docs/delivery.md). Avro or JSON like "
     "the changes (serializer.format)."},
    {"publisher.checkpoint_interval_ms", KT_MS, "1000", 10, 60000, NULL,
     "At most how often the publisher writes its checkpoint, the binlog position up to which "
     "Kafka has acknowledged every change. Shorter: less to skip after a restart; longer: "
     "fewer disk syncs. Nothing is lost either way: after a restart rowcast resumes from the "
     "checkpoint and skips what Kafka already holds."},

    {"pipe.buffer_bytes", KT_BYTES, "4m", 64 * KIB, GIB, NULL,
     "The send and receive buffer of every pipe between stages (nanomsg NN_SNDBUF and "
     "NN_RCVBUF). A full pipe makes the sender wait, and so on back to the binlog read: with "
     "pipe.max_message_bytes, this bounds the memory a backlog can take."},
    {"pipe.shared_bytes", KT_BYTES, "16m", 0, GIB, NULL,
     "Shared memory through which the serializers hand their batches to the publisher, divided "
     "among serializer.workers: the publisher reads a batch where the serializer wrote it, "
     "instead of receiving it through the pipe's socket, which copies every byte twice. It "
     "bounds the batches between the serializers and Kafka's acknowledgements: a full ring makes "
     "a serializer wait, and under 4 MiB a busy pipeline slows down. A batch larger than a "
     "quarter of a worker's share goes through the pipe. Every byte counts in the resident "
     "memory of both its serializer and the publisher. 0: every batch through the pipes."},
    {"pipe.max_message_bytes", KT_BYTES, "64m", MIB, GIB, NULL,
     "The largest message a stage accepts from a pipe (nanomsg NN_RCVMAXSIZE). A batch is "
     "closed before it would grow past this size; a single change bigger than this on its own "
     "is refused with an error that names it, never dropped silently."},

    {"state.dir", KT_STRING, "rowcast-state", 1, 4000, NULL,
     "Where rowcast keeps what must survive a restart: the checkpoint it resumes from. Keep it "
     "on a durable disk. One rowcast per state.dir: `rowcast replay` and `rowcast run` lock "
     "<state.dir>/lock (the supervisor and its stages hold it) and a second one refuses to "
     "start, naming the pid that holds it. A relative path is relative to the directory "
     "rowcast starts in. Created private (mode 0700); rowcast warns when an existing one can "
     "be read by its group or others."},
    {"run.dir", KT_STRING, "", 0, 80, NULL,
     "Where the running processes meet: their ipc sockets and live statistics. Empty: a fresh "
     "temporary directory, removed at the end (and at the next start when a killed rowcast "
     "left it behind). Nothing in it needs to survive a restart. At most 80 characters, "
     "because a socket path must fit in 107 bytes. Created private (mode 0700), like "
     "state.dir: it holds the configuration the stages read (mode 0600), source.password "
     "included when one is set."},

    {"schema.tracker", KT_ENUM, "auto", 0, 0, "auto|off",
     "Where column names come from when the binlog lacks them (binlog_row_metadata MINIMAL or "
     "NO_LOG): auto runs the schema history (docs/schema-history.md): the binlog's own DDL "
     "applied, in order, to a private MariaDB that rowcast starts (mariadbd, from the "
     "mariadb-server package), so that every change is decoded with the table as it was at its "
     "position. `decode` and `replay` start it at the first table map without names; `run` "
     "at start-up, when the server does not log FULL metadata. off: no schema history; `run` "
     "then looks tables up in information_schema as they are now, and files print columns "
     "keyed \"@1\", \"@2\", ..."},
    {"schema.initial", KT_STRING, "", 0, 4000, NULL,
     "For `decode` and `replay` of binlogs that start after their tables were created: a file "
     "of CREATE statements (the output of mariadb-dump --no-data or mysqldump --no-data) that "
     "holds the tables as they were where the binlog starts. Applied once, before the first "
     "DDL of the binlog; a schema history kept in state.dir wins over it."},
    {"schema.history_topic", KT_BOOL, "true", 0, 1, NULL,
     "With the schema history running (schema.tracker=auto, `run` and `replay`): publish every "
     "table version it records to the topic <publisher.topic_prefix>._schema_history as well "
     "(key `db`.`table`@FILE:OFFSET, value the version's line of <state.dir>/schema_history), "
     "so that a lost history file is rebuilt from Kafka: when `run` or `replay` start with no "
     "schema_history in state.dir and the topic holds versions, the file is written from it "
     "before the stages start. rowcast creates the topic compacted (cleanup.policy=compact, "
     "one partition) when the cluster lets it. false: the history stays in state.dir only."},

    {"metrics.interval_ms", KT_MS, "1000", 100, 60000, NULL,
     "How often each process sends a snapshot of its metrics (throughput, latency) to the "
     "supervisor, which serves them and prints the live summary."},
    {"metrics.listen", KT_STRING, "", 0, 300, NULL,
     "Where rowcast replay and rowcast run serve their metrics over HTTP: HOST:PORT (for "
     "example 127.0.0.1:9187), [IPv6]:PORT, or :PORT for 127.0.0.1. /metrics is the Prometheus "
     "text format, /healthz answers 200 or 503 with a JSON reason (README: Metrics and health). "
     "Empty: no HTTP endpoint. rowcast binds only the address given, so it stays on loopback "
     "unless you name another; an address it cannot listen on (taken, not this machine's, a bad "
     "port) stops it at start with exit status 2."},
    {"metrics.linger_ms", KT_MS, "0", 0, 3600000, NULL,
     "With metrics.listen: how long rowcast goes on serving its final figures after the group "
     "stopped (the end of a replay), so that a scraper gets them; a signal ends the wait. 0: "
     "exit at once."},
    {"health.max_lag_ms", KT_MS, "60000", 1, 86400000, NULL,
     "/healthz answers 503 when rowcast run is further behind its source server than this (the "
     "reader's seconds behind: its clock against the timestamp of the last event read)."},

    {"supervisor.restart_delay_ms", KT_MS, "1000", 1000, 600000, NULL,
     "The least time between two starts of a stage that died. Never under a second, so that a "
     "stage failing at start-up cannot cause a restart storm."},
    {"supervisor.max_restarts", KT_INT, "10", 0, 1000000, NULL,
     "rowcast gives up, and exits with an error, after this many restarts in a row without "
     "progress in between. 0: give up at the first crash."},
    {"supervisor.stall_timeout_ms", KT_MS, "30000", 1000, 86400000, NULL,
     "The watchdog: when changes are read but not yet acknowledged and no stage makes progress "
     "for this long, rowcast logs the stage it blames (one that stopped reporting, or the first "
     "whose input is ahead of its output), shows it in `rowcast stats` (\"stalled\"), and "
     "restarts the group from the checkpoint. Kafka being unreachable is not a stall: the "
     "publisher says so every 10 s and the group waits for it."},
};

const key_check rc_config_checks[] = {
    {"filter.include", rc_filter_check_tables},
    {"filter.exclude", rc_filter_check_tables},
    {"filter.exclude_columns", rc_filter_check_columns},
    {"filter.mask_columns", rc_filter_check_columns},
    {"snapshot.tables", rc_filter_check_tables},
    {NULL, NULL},
};

_Static_assert(sizeof rc_config_keys / sizeof rc_config_keys[0] == RC_CONFIG_NKEYS,
               "RC_CONFIG_NKEYS (config_int.h) must count the keys of rc_config_keys[]");

const char rc_config_kafka_help[] =
    "Any librdkafka producer property, passed unchanged to librdkafka in the order given "
    "(kafka.bootstrap.servers, kafka.security.protocol, kafka.sasl.username, "
    "kafka.compression.type, ...). rowcast does not check them: librdkafka does when rowcast "
    "starts, and rowcast stops with its message. Without kafka.bootstrap.servers, rowcast "
    "starts its local embedded broker, which keeps data in memory only: for development and "
    "tests, not production. It keeps about 5 MiB per partition and evicts older messages; it "
    "warns, in its log and in rowcast stats, naming the topic and partition, as soon as a "
    "partition has lost messages (for big replays, a real Kafka: see rowcast broker --help). "
    "A value must fit on one line: use ssl.certificate.location rather than "
    "ssl.certificate.pem.";
