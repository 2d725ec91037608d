/* tcpsession.i - SWIG interface of the Python binding.

   Makes the extension tcpsession._core and its proxy tcpsession.core:
   - the C header's declarations (tcpsession.h, read with the implementation
     macro undefined): constants, result names and messages, the version,
     and the low-level functions for those who want them;
   - engine.i: the loops and per-session records the Python API
     (tcpsession/__init__.py) is built on.
   The implementation itself is compiled once, in impl.c. */
%module(package="tcpsession", docstring="Low-level wrapper of tcpsession.h; use the tcpsession package.") core

%{
#define SWIG_FILE_WITH_INIT
#include "tcpsession.h"
%}

/* Only what is useful from Python: the constants and the describing
   functions. The objects themselves are reached through engine.i. */
%ignore tcps_reader_open_file;
%ignore tcps_reader_open_callback;
%ignore tcps_reader_open_memory;
%ignore tcps_read_fn;
%ignore tcps_allocator;
%ignore tcps_event_fn;
%ignore tcps_callbacks;
%ignore tcps_config;
%ignore tcps_reader_config;
%ignore tcps_decoder_config;
%ignore tcps_decode_stats;
%ignore tcps_decode_stats::linktypes;
%ignore tcps_decode_stats_linktypes;
%ignore tcps_stats;
%ignore tcps_segment;
%ignore tcps_tcp_options;
%ignore tcps_packet;
%ignore tcps_event;
%ignore tcps_session;
%ignore tcps_dir_stats;
%ignore tcps_endpoint;
%ignore tcps_span;
%ignore tcps_time;
%ignore tcps_error;
%ignore tcps_create;
%ignore tcps_destroy;
%ignore tcps_feed_segment;
%ignore tcps_feed_packet;
%ignore tcps_feed_frame;
%ignore tcps_finish;
%ignore tcps_run;
%ignore tcps_next;
%ignore tcps_ctx_stats;
%ignore tcps_ctx_error;
%ignore tcps_config_effective;
%ignore tcps_reader_open_path;
%ignore tcps_reader_next;
%ignore tcps_reader_close;
%ignore tcps_reader_error;
%ignore tcps_reader_format;
%ignore tcps_reader_offset;
%ignore tcps_reader_config_effective;
%ignore tcps_decoder_create;
%ignore tcps_decoder_destroy;
%ignore tcps_decode;
%ignore tcps_decoder_stats;
%ignore tcps_decoder_config_effective;
%ignore tcps_addr_to_string;
%ignore tcps_time_cmp;
%ignore TCPS__MAYBE_UNUSED;

%include "stdint.i"
%include "tcpsession.h"

%include "engine.i"
