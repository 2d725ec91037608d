/* fuzz_pcapng - libFuzzer harness for the capture reader on pcapng files:
   sections in either byte order, interface descriptions and their options
   (if_tsresol, if_tsoffset, if_fcslen), enhanced, simple and obsolete
   packet blocks, blocks skipped or streamed past max_record.  The input
   layout (7 option bytes, then the capture) and what is checked are
   described in reader_harness.h.

       make fuzz fuzz-corpus
       build/fuzz/fuzz_pcapng -dict=fuzz/pcapng.dict build/fuzz/corpus/pcapng build/fuzz/seeds/pcapng

   A crash file reproduces without libFuzzer:
       build/fuzz/fuzz_pcapng-replay crash-<hash> */
#define FZ_READER_PCAPNG 1
#include "reader_harness.h"
