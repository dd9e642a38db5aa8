/* bench_ingest.c — to be written. */
int main(void) { return 0; }
