// Fuzzes the decoding of usage events: usage-api's POST /api/analytics/track
// bodies, backfill files (the browser's saved events), and the roll-ups'
// reading of the distribution property.
//
// Input: a selector, then the text.
//   t a track body   b a backfill file   p a properties object (risk_mode counted)
// "Now" is fixed, so a finding reproduces from its input alone.
// Properties: decoding never crashes; a refusal names its field in its
// message and lists at most 100 problems; an accepted event has its
// required fields, keeps every string within its length and free of control
// characters, has a time inside the accepted window, properties that are a
// JSON object within the size limit, and the distribution value those
// properties give; a backfilled event always has an id, and decoding the
// same file twice gives the same events (ids derived from content).
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cocktail/usage/event.h"
#include "cocktail/usage/event_decoding.h"
#include "fuzz_input.h"

namespace {

using namespace cocktail;

constexpr std::int64_t kNowMs = 1795516200000;  // 2026-11-24T10:30:00Z

void check_refusal(const core::Error& error, std::string_view text) {
  COCKTAIL_FUZZ_CHECK(error.code == core::ErrorCode::kInvalidArgument, error.message);
  COCKTAIL_FUZZ_CHECK(!error.message.empty() && error.details.size() <= 100, text);
}

bool printable(const std::optional<std::string>& s, std::size_t max) {
  if (!s) {
    return true;
  }
  if (s->empty() || s->size() > max) {
    return false;
  }
  for (unsigned char c : *s) {
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return simdjson::validate_utf8(s->data(), s->size());
}

void check_event(const usage::UsageEvent& e, const usage::DecodeLimits& limits, std::string_view text) {
  COCKTAIL_FUZZ_CHECK(printable(e.event_type, usage::kMaxTypeBytes), e.event_type);
  COCKTAIL_FUZZ_CHECK(printable(e.session_id, usage::kMaxNameBytes), e.session_id);
  COCKTAIL_FUZZ_CHECK(printable(e.user_id, usage::kMaxNameBytes), text);
  COCKTAIL_FUZZ_CHECK(printable(e.tool_name, usage::kMaxNameBytes), text);
  COCKTAIL_FUZZ_CHECK(printable(e.action, usage::kMaxTypeBytes), text);
  COCKTAIL_FUZZ_CHECK(e.received_at_ms == kNowMs, text);
  COCKTAIL_FUZZ_CHECK(e.timestamp_ms <= kNowMs + limits.max_future_ms, text);
  COCKTAIL_FUZZ_CHECK(e.timestamp_ms >= kNowMs - limits.max_age_ms, text);
  if (e.properties) {
    COCKTAIL_FUZZ_CHECK(e.properties->size() <= limits.max_properties_bytes, *e.properties);
    thread_local simdjson::dom::parser parser;
    simdjson::dom::object object;
    COCKTAIL_FUZZ_CHECK(parser.parse(*e.properties).get_object().get(object) == simdjson::SUCCESS,
                        *e.properties);
  }
  const auto counted = e.properties ? usage::distribution_value(*e.properties, limits.distribution_property)
                                    : std::optional<std::string>();
  COCKTAIL_FUZZ_CHECK(e.distribution_value == counted, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  char selector = 0;
  std::string_view text;
  if (!fuzz::split_selector(fuzz::as_text(data, size), &selector, &text)) {
    return 0;
  }
  const usage::DecodeLimits limits;
  switch (selector) {
    case 't': {
      const auto batch = usage::decode_track(text, kNowMs, limits);
      if (!batch.ok()) {
        check_refusal(batch.error(), text);
        return 0;
      }
      COCKTAIL_FUZZ_CHECK(!batch->events.empty() && batch->events.size() <= limits.max_events, text);
      COCKTAIL_FUZZ_CHECK(batch->is_array || batch->events.size() == 1, text);
      for (const auto& e : batch->events) {
        check_event(e, limits, text);
      }
      return 0;
    }
    case 'b': {
      const auto batch = usage::decode_backfill(text, kNowMs, limits);
      if (!batch.ok()) {
        check_refusal(batch.error(), text);
        return 0;
      }
      for (const auto& e : batch->events) {
        check_event(e, limits, text);
        COCKTAIL_FUZZ_CHECK(!e.id.empty(), text);
      }
      const auto again = usage::decode_backfill(text, kNowMs, limits);
      COCKTAIL_FUZZ_CHECK(again.ok() && again->events == batch->events, text);
      return 0;
    }
    case 'p': {
      const auto value = usage::distribution_value(text, limits.distribution_property);
      COCKTAIL_FUZZ_CHECK(printable(value, usage::kMaxKeyBytes), text);
      return 0;
    }
    default: return 0;
  }
}
