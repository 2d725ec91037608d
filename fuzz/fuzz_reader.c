/* fuzz_reader - libFuzzer harness for the capture reader on pcap and Sun
   snoop files (pcapng has its own, fuzz_pcapng), with the decoder run on
   every packet when the options ask for it.  The input layout (7 option
   bytes, then the capture) and what is checked are described in
   reader_harness.h.

       make fuzz fuzz-corpus
       build/fuzz/fuzz_reader -dict=fuzz/reader.dict build/fuzz/corpus/reader build/fuzz/seeds/reader

   A crash file reproduces without libFuzzer, with the gcc build of the
   same harness:  build/fuzz/fuzz_reader-replay crash-<hash> */
#include "reader_harness.h"
