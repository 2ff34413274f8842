// Conversions between std::string_view and Beast's string_view (which is
// boost::string_view in Boost 1.74).
#pragma once

#include <boost/beast/core/string_type.hpp>
#include <string_view>

namespace cocktail::http::detail {

inline std::string_view to_std(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline boost::beast::string_view to_beast(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace cocktail::http::detail
