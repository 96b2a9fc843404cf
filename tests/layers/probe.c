/* probe.c: one include in a layer's place (tests/layers/CMakeLists.txt says which). */
#include PROBE_HEADER
#include PROBE_HEADER2

int rc_layer_probe(void);
int rc_layer_probe(void) { return 0; }
