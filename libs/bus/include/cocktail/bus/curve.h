// CURVE keys of the event bus (ZeroMQ's CurveZMQ: Curve25519 key exchange,
// authenticated encryption of every message) and the files they live in.
//
// Keys travel as Z85 text (ZeroMQ's encoding: 40 characters for 32 bytes).
// Files use ZeroMQ's certificate format (the one CZMQ's zcert reads and
// writes), so keys can be made and inspected with ZeroMQ's own tools too:
//
//   <name>.key         public certificate, may be shared
//     curve
//         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//   <name>.key_secret  secret certificate, readable by its owner only (0600)
//     curve
//         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//         secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//
// Readers are lenient about layout (comments, indentation, quotes optional)
// and strict about keys: each must be 40 valid Z85 characters, and a
// secret certificate's public key must be the one its secret key implies.
// A list of authorized keys may also hold bare Z85 keys, one per line.
//
// Pure functions (and file I/O); thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/core/result.h"

namespace cocktail::bus {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh key pair from the system's randomness. Throws std::runtime_error
// when ZeroMQ was built without CURVE.
CurveKeyPair generate_key_pair();
// True when ZeroMQ was built with CURVE (Debian's libzmq5 is).
bool curve_available();

// True for 40 characters that decode as Z85.
bool is_z85_key(std::string_view text);
// The public key a secret key implies; an error for a malformed key.
core::Result<std::string> public_key_of(std::string_view secret_key);

// A secret certificate: both keys (the public key derived when absent).
core::Result<CurveKeyPair> read_secret_key_file(const std::filesystem::path& path);
// Public keys: a certificate file or a file of bare keys, or a directory,
// whose files named *.key are read (secret certificates are skipped). An
// error when the path holds no key at all.
core::Result<std::vector<std::string>> read_public_keys(const std::filesystem::path& path);

// Writes `<stem>.key` (0644) and `<stem>.key_secret` (0600), each replaced
// atomically. Refuses to replace existing files unless `overwrite`.
core::Status write_key_files(const std::filesystem::path& stem, const CurveKeyPair& keys, bool overwrite);

// The certificate texts write_key_files() writes.
std::string public_certificate(std::string_view public_key);
std::string secret_certificate(const CurveKeyPair& keys);

}  // namespace cocktail::bus
