// The bus's own metrics, registered when a socket is given a registry:
//   cocktail_bus_connections_accepted_total            CURVE clients admitted
//   cocktail_bus_connections_refused_total{reason}     unknown_key | handshake
//   cocktail_bus_reconnects_total{reason}              dropped | refused
// Families are shared: every publisher (subscriber) of a process adds to the
// same series, and a process has only the families of the sides it runs.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include "cocktail/metrics/registry.h"

namespace cocktail::bus::detail {

// What a publisher (the side that binds) counts.
struct PublisherBusMetrics {
  explicit PublisherBusMetrics(metrics::MetricsRegistry& registry)
      : accepted(registry
                     .counter("cocktail_bus_connections_accepted_total",
                              "Bus subscribers admitted by a CURVE publisher (their key is authorized)")
                     .Add({})),
        refused(registry.counter("cocktail_bus_connections_refused_total",
                                 "Bus connections a publisher refused: unknown_key (a CURVE key not "
                                 "authorized), handshake (no CURVE, or a failed handshake)")) {
    for (const char* reason : {"unknown_key", "handshake"}) {
      refused.Add({{"reason", reason}});
    }
  }

  prometheus::Counter& accepted;
  prometheus::Family<prometheus::Counter>& refused;
};

// What a subscriber counts.
struct SubscriberBusMetrics {
  explicit SubscriberBusMetrics(metrics::MetricsRegistry& registry)
      : reconnects(registry.counter("cocktail_bus_reconnects_total",
                                    "Connections a subscriber re-established itself: dropped (an oversized "
                                    "or garbled message ended it), refused (the handshake failed)")) {
    for (const char* reason : {"dropped", "refused"}) {
      reconnects.Add({{"reason", reason}});
    }
  }

  prometheus::Family<prometheus::Counter>& reconnects;
};

}  // namespace cocktail::bus::detail
