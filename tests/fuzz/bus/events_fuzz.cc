// Fuzzes the decoding of bus events (cocktail::bus::decode) and of their
// timestamps: what every subscriber does with a message from the network.
//
// Input: a topic selector, then the body.
//   c catalog.change   h catalog.heartbeat   s analytics.snapshot
//   a analytics.heartbeat   u usage.hour   t a timestamp alone
//   anything else: the text up to the first newline is the topic, the rest
//   the body
// Properties: decoding never crashes; an accepted event encodes (the encoder
// enforces the contract, so decode must never accept what encode refuses),
// and decoding that encoding gives back the same event. An accepted
// timestamp formats and parses back to the same millisecond.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cocktail/bus/events.h"
#include "fuzz_input.h"

namespace {

using namespace cocktail;

void check_timestamp(std::string_view text) {
  const auto ms = bus::parse_utc_timestamp(text);
  if (!ms) {
    return;
  }
  const std::string formatted = bus::format_utc_timestamp(*ms);
  COCKTAIL_FUZZ_CHECK(bus::parse_utc_timestamp(formatted) == ms, formatted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  char selector = 0;
  std::string_view body;
  if (!fuzz::split_selector(fuzz::as_text(data, size), &selector, &body)) {
    return 0;
  }
  std::string_view topic;
  switch (selector) {
    case 'c': topic = bus::kCatalogChangeTopic; break;
    case 'h': topic = bus::kCatalogHeartbeatTopic; break;
    case 's': topic = bus::kAnalyticsSnapshotTopic; break;
    case 'a': topic = bus::kAnalyticsHeartbeatTopic; break;
    case 'u': topic = bus::kUsageHourTopic; break;
    case 't': check_timestamp(body); return 0;
    default: {
      const auto newline = body.find('\n');
      topic = body.substr(0, newline);
      body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    }
  }
  const auto event = bus::decode(topic, body);
  if (!event.ok()) {
    COCKTAIL_FUZZ_CHECK(!event.error().message.empty(), body);
    return 0;
  }
  COCKTAIL_FUZZ_CHECK(bus::topic_of(*event) == topic, topic);
  std::string encoded;
  try {
    encoded = bus::encode_body(*event);
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__, "a decoded event encodes", e.what());
  }
  const auto again = bus::decode(topic, encoded);
  COCKTAIL_FUZZ_CHECK(again.ok(), encoded);
  COCKTAIL_FUZZ_CHECK(*again == *event, encoded);
  return 0;
}
