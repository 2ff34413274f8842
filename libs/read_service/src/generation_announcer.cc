#include "cocktail/read_service/generation_announcer.h"

#include <algorithm>

#include "cocktail/core/time.h"

namespace cocktail::read_service {

GenerationAnnouncer::GenerationAnnouncer(std::size_t max_clients, metrics::MetricsRegistry& registry)
    : max_clients_(max_clients),
      clients_gauge_(
          registry.gauge("cocktail_read_stream_clients", "Clients connected to the generation event stream")
              .Add({})),
      events_sent_(
          registry.counter("cocktail_read_stream_events_total", "Generation events queued to stream clients")
              .Add({})) {}

std::string GenerationAnnouncer::event_data(const Generation& g) {
  std::string out = "{\"generation\":";
  out.append(std::to_string(g.generation()))
      .append(",\"catalog_seq\":")
      .append(std::to_string(g.catalog_seq()));
  out.append(",\"generated_at\":\"").append(core::format_utc_iso8601(g.generated_at_ms())).append("\"}");
  return out;
}

bool GenerationAnnouncer::add(http::EventStream stream, const std::shared_ptr<const Generation>& current) {
  std::uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (clients_.size() >= max_clients_) {
      stream.close();
      return false;
    }
    id = next_id_++;
    clients_.push_back(Client{id, stream});
    clients_gauge_.Set(static_cast<double>(clients_.size()));
  }
  // Registered outside the lock: on an already closed stream it runs at once.
  stream.on_close([this, id] { forget(id); });
  if (current) {
    if (stream.send("generation", event_data(*current), std::to_string(current->generation()))) {
      events_sent_.Increment();
    }
  }
  return true;
}

void GenerationAnnouncer::announce(const std::shared_ptr<const Generation>& generation) {
  std::vector<http::EventStream> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams.reserve(clients_.size());
    for (const auto& c : clients_) {
      streams.push_back(c.stream);
    }
  }
  const std::string data = event_data(*generation);
  const std::string id = std::to_string(generation->generation());
  for (auto& s : streams) {
    if (s.send("generation", data, id)) {
      events_sent_.Increment();
    }
  }
}

void GenerationAnnouncer::close_all() {
  std::vector<http::EventStream> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : clients_) {
      streams.push_back(c.stream);
    }
  }
  for (auto& s : streams) {
    s.close();
  }
}

void GenerationAnnouncer::forget(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  clients_.erase(
      std::remove_if(clients_.begin(), clients_.end(), [id](const Client& c) { return c.id == id; }),
      clients_.end());
  clients_gauge_.Set(static_cast<double>(clients_.size()));
}

std::size_t GenerationAnnouncer::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

}  // namespace cocktail::read_service
