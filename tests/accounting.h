/* The accounting rules of tcpsession's counters, for tests and fuzz
   harnesses: every packet and every segment fed has exactly one counted
   outcome (see tcps_decode_stats and tcps_stats in tcpsession.h). Each
   function returns NULL when the counters add up, else the rule broken. */
#ifndef TCPS_TEST_ACCOUNTING_H
#define TCPS_TEST_ACCOUNTING_H

#include "tcpsession.h"

static inline const char *acct_decoder(const tcps_decode_stats *d) {
    if (!d) return "no decoder stats";
    if (d->packets != d->tcp + d->non_ip + d->non_tcp + d->unsupported_link + d->malformed_packets +
                          d->fragment_packets + d->nomem + d->other)
        return "decoded packets differ from the sum of their outcomes";
    if (d->other) return "packets the decoder gave no outcome";
    return NULL;
}

/* segments_fed_direct: segments given with tcps_feed_segment, not decoded
   (UINT64_MAX: not known, that rule is not checked) */
static inline const char *acct_ctx(const tcps_stats *st, uint64_t segments_fed_direct) {
    const char *why;
    if (st->segments != st->session_segments + st->late_segments + st->bad_checksum + st->nomem_segments)
        return "segments fed differ from the sum of their outcomes";
    if (!st->decode) return st->packets ? "packets fed without a decoder" : NULL;
    if ((why = acct_decoder(st->decode)) != NULL) return why;
    if (st->decode->packets != st->packets) return "packets fed differ from packets decoded";
    if (segments_fed_direct != UINT64_MAX && st->decode->tcp + segments_fed_direct != st->segments) return "segments decoded differ from segments fed";
    return NULL;
}

#endif
