/* Used by the compile tests (tests/test_compile.sh): refers to every public
   function of tcpsession.h, so that a program including this links only if
   the implementation defines all of them. */
#ifndef TCPS_TEST_API_USE_H
#define TCPS_TEST_API_USE_H

#include <string.h>

typedef void (*tcps_test_fn)(void);

/* Returns 0 when the functions that can run without input behave, and makes
   the address of every other one escape so the linker must resolve it. */
static int tcps_test_use_api(volatile tcps_test_fn *sink) {
    int bad = 0;
    (void)sink;
    char buf[64];
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    tcps_time a, b;
    a.sec = 1;
    a.nsec = 0;
    b.sec = 1;
    b.nsec = 5;
    bad |= strcmp(tcps_version(), TCPS_VERSION_STRING) != 0;
    bad |= strcmp(tcps_result_name(TCPS_E_NOMEM), "TCPS_E_NOMEM") != 0;
    bad |= tcps_result_message(TCPS_OK) == NULL;
    bad |= tcps_malformed_name(TCPS_MALFORMED_TCP_BAD_OFFSET) == NULL;
    bad |= tcps_malformed_message(0) == NULL;
    bad |= tcps_time_cmp(a, b) >= 0;
    bad |= strcmp(tcps_addr_to_string(v6, 6, buf, sizeof buf), "2001:db8::1") != 0;
    bad |= strcmp(tcps_end_name(TCPS_END_RST), "rst") != 0;
    bad |= strcmp(tcps_gap_name(TCPS_GAP_CLOSE), "close") != 0;
    bad |= tcps_anomaly_name(TCPS_ANOM_SYN_DATA) == NULL;
    bad |= tcps_option_name(TCPS_OPT_MSS) == NULL;
    bad |= strcmp(tcps_event_name(TCPS_EV_DATA), "data") != 0;
#define TCPS_TEST_SINK(f) (*sink = (tcps_test_fn)(f))
    TCPS_TEST_SINK(tcps_reader_open_memory);
    TCPS_TEST_SINK(tcps_reader_open_callback);
#ifndef TCPS_NO_STDIO
    TCPS_TEST_SINK(tcps_reader_open_file);
    TCPS_TEST_SINK(tcps_reader_open_path);
#endif
    TCPS_TEST_SINK(tcps_reader_next);
    TCPS_TEST_SINK(tcps_reader_close);
    TCPS_TEST_SINK(tcps_reader_error);
    TCPS_TEST_SINK(tcps_reader_format);
    TCPS_TEST_SINK(tcps_reader_offset);
    TCPS_TEST_SINK(tcps_reader_config_effective);
    TCPS_TEST_SINK(tcps_decoder_create);
    TCPS_TEST_SINK(tcps_decoder_destroy);
    TCPS_TEST_SINK(tcps_decode);
    TCPS_TEST_SINK(tcps_decoder_stats);
    TCPS_TEST_SINK(tcps_decoder_config_effective);
    TCPS_TEST_SINK(tcps_create);
    TCPS_TEST_SINK(tcps_destroy);
    TCPS_TEST_SINK(tcps_feed_segment);
    TCPS_TEST_SINK(tcps_feed_packet);
    TCPS_TEST_SINK(tcps_feed_frame);
    TCPS_TEST_SINK(tcps_finish);
    TCPS_TEST_SINK(tcps_run);
    TCPS_TEST_SINK(tcps_next);
    TCPS_TEST_SINK(tcps_ctx_stats);
    TCPS_TEST_SINK(tcps_ctx_error);
    TCPS_TEST_SINK(tcps_config_effective);
#undef TCPS_TEST_SINK
    return bad;
}

#endif
