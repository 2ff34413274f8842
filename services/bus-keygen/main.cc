// bus-keygen: writes a CURVE key pair for one service of the event bus.
//
//   bus-keygen --out /etc/cocktaildb/bus/catalog-api      writes catalog-api.key (public, 0644)
//                                                         and catalog-api.key_secret (0600)
//   bus-keygen --public-of /etc/cocktaildb/bus/catalog-api.key_secret
//                                                         prints the public key of a secret certificate
//
// Wiring only: the key format and files are libs/bus (curve.h); which
// service needs which key is docs/operations.md, "Event bus security".
#include <iostream>
#include <string>

#include "cocktail/bus/curve.h"
#include "cocktail/core/options.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char** argv) {
  cocktail::core::Options o(
      "bus-keygen",
      "Writes a CURVE key pair (ZeroMQ certificate files) for one service of the event bus, "
      "and prints its public key.");
  o.add_string("--out", "", "",
               "path without extension: writes <out>.key (public, share it) and <out>.key_secret (0600, the "
               "service's --bus-key-file)")
      .add_bool("--force", "", false, "replace existing files")
      .add_string("--public-of", "", "", "print the public key of this secret certificate and exit");
  o.parse_or_exit(argc, argv);

  if (!o.positional().empty()) {
    std::cerr << "bus-keygen: unexpected argument '" << o.positional().front() << "'\n";
    return kExitUsage;
  }
  if (!cocktail::bus::curve_available()) {
    std::cerr << "bus-keygen: this build of ZeroMQ has no CURVE support\n";
    return kExitFailure;
  }
  if (!o.get("--public-of").empty()) {
    auto keys = cocktail::bus::read_secret_key_file(o.get("--public-of"));
    if (!keys.ok()) {
      std::cerr << "bus-keygen: " << keys.error().message << "\n";
      return kExitFailure;
    }
    std::cout << keys->public_key << "\n";
    return kExitOk;
  }
  if (o.get("--out").empty()) {
    std::cerr << "bus-keygen: --out is required (see bus-keygen --help)\n";
    return kExitUsage;
  }
  const auto keys = cocktail::bus::generate_key_pair();
  auto written = cocktail::bus::write_key_files(o.get("--out"), keys, o.get_bool("--force"));
  if (!written.ok()) {
    std::cerr << "bus-keygen: " << written.error().message << "\n";
    return kExitFailure;
  }
  std::cout << keys.public_key << "\n";
  return kExitOk;
}
