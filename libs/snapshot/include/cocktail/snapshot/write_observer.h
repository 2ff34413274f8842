// WriteObserver: called by the snapshot store at every step of writing a
// generation, so that tests can inject a failure (throw) or a crash (_exit)
// at each point and check what a reader sees afterwards. Production code
// passes none.
//
// Called on the writing thread; an implementation needs no locking unless
// it shares state with other threads.
#pragma once

#include <string_view>

namespace cocktail::snapshot {

enum class WriteStep {
  kGenerationCreated,  // the generation directory exists and is durable
  kTempWritten,        // a file's temporary copy is written (a data file's also fsynced), not yet renamed
  kRenamed,            // a file has its final name (renamed, or hard-linked from an earlier generation)
  kBeforeManifest,     // every data file is in place; the manifest comes next
  kBeforeCurrent,      // the manifest is in place; CURRENT comes next
  kCurrentReplaced,    // CURRENT names the new generation: it is published
  kLegacyRenamed,      // a legacy v1/<name> copy was replaced
};

const char* write_step_name(WriteStep step);

class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  // `file` names the file concerned ("CURRENT", "manifest.json", "legacy/<name>"
  // for the copies in v1/), empty for steps about the whole generation.
  virtual void on_step(WriteStep step, std::string_view file) = 0;
};

}  // namespace cocktail::snapshot
