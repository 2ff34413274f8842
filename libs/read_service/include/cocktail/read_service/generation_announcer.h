// GenerationAnnouncer: the server-sent-events clients of
// GET /api/v1/analytics/stream, told about every generation swapped in.
//
// Each client first gets the generation served when it connected (so a
// dashboard knows where it stands without a second request), then one event
// per swap:
//
//   event: generation
//   id: 12
//   data: {"generation":12,"catalog_seq":340,"generated_at":"2026-11-24T10:00:00.123Z"}
//
// A client that reads too slowly is dropped by the HTTP layer (bounded
// buffer per stream); closed streams are forgotten. The number of clients is
// bounded; beyond it add() refuses.
//
// Thread-safety: every method from any thread. announce() runs on the
// SnapshotCache refresh thread; queuing an event does not wait for clients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cocktail/http/event_stream.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/generation.h"

namespace cocktail::read_service {

class GenerationAnnouncer {
 public:
  GenerationAnnouncer(std::size_t max_clients, metrics::MetricsRegistry& registry);

  // Takes a freshly opened stream; sends `current` (when not null) at once.
  // False (and the stream closed) when there are already max_clients.
  bool add(http::EventStream stream, const std::shared_ptr<const Generation>& current);
  // Sends the event for `generation` to every open stream.
  void announce(const std::shared_ptr<const Generation>& generation);
  // Ends every stream (shutdown).
  void close_all();
  std::size_t clients() const;
  bool full() const { return clients() >= max_clients_; }

  // The event's data: {"generation","catalog_seq","generated_at"}.
  static std::string event_data(const Generation& generation);

 private:
  struct Client {
    std::uint64_t id = 0;
    http::EventStream stream;
  };
  void forget(std::uint64_t id);

  const std::size_t max_clients_;
  mutable std::mutex mu_;
  std::vector<Client> clients_;
  std::uint64_t next_id_ = 1;
  prometheus::Gauge& clients_gauge_;
  prometheus::Counter& events_sent_;
};

}  // namespace cocktail::read_service
