#include "cocktail/bus/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace cocktail::bus {
namespace {

constexpr std::size_t kZ85KeyLength = 40;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

struct Certificate {
  std::vector<std::string> public_keys;
  std::string secret_key;
};

// Reads `name = "value"` lines for public-key and secret-key, and bare keys.
core::Result<Certificate> parse_certificate(std::string_view text, const std::string& path) {
  Certificate cert;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.size() == kZ85KeyLength && is_z85_key(line)) {
      cert.public_keys.emplace_back(line);  // a bare key ('=' is a Z85 character)
      continue;
    }
    const auto eq = line.find('=');
    std::string_view name = eq == std::string_view::npos ? std::string_view() : trim(line.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? line : unquote(line.substr(eq + 1));
    const auto where = path + ":" + std::to_string(line_no);
    if (eq == std::string_view::npos) {
      if (line.size() == kZ85KeyLength) {
        return core::Error::invalid("public-key", where + ": not a valid Z85 key");
      }
      continue;  // a section name of the certificate format ("curve", "metadata")
    }
    if (name == "public-key" || name == "secret-key") {
      if (!is_z85_key(value)) {
        return core::Error::invalid(std::string(name),
                                    where + ": " + std::string(name) + " is not a 40-character Z85 key");
      }
      if (name == "public-key") {
        cert.public_keys.emplace_back(value);
      } else {
        cert.secret_key = std::string(value);
      }
    }
  }
  return cert;
}

core::Result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::Error::invalid("path",
                                "cannot read key file " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream os;
  os << in.rdbuf();
  std::string text = os.str();
  if (text.size() > 1 << 20) {
    return core::Error::invalid("path", "key file " + path.string() + " is too large");
  }
  return text;
}

void write_atomically(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot create " + tmp.string());
  }
  // The mode given to open() is filtered by the umask; set it exactly.
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ok = n > 0;
    if (ok) {
      done += static_cast<std::size_t>(n);
    }
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    std::filesystem::remove(tmp);
    throw std::system_error(saved, std::generic_category(), "cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

bool curve_available() { return zmq_has("curve") != 0; }

CurveKeyPair generate_key_pair() {
  std::array<char, kZ85KeyLength + 1> pub{};
  std::array<char, kZ85KeyLength + 1> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    throw std::runtime_error(std::string("cannot generate a CURVE key pair: ") + zmq_strerror(zmq_errno()));
  }
  return {std::string(pub.data()), std::string(sec.data())};
}

bool is_z85_key(std::string_view text) {
  if (text.size() != kZ85KeyLength) {
    return false;
  }
  std::array<std::uint8_t, 32> bytes{};
  const std::string z(text);
  return zmq_z85_decode(bytes.data(), z.c_str()) != nullptr;
}

core::Result<std::string> public_key_of(std::string_view secret_key) {
  if (!is_z85_key(secret_key)) {
    return core::Error::invalid("secret-key", "not a 40-character Z85 key");
  }
  std::array<char, kZ85KeyLength + 1> pub{};
  const std::string sec(secret_key);
  if (zmq_curve_public(pub.data(), sec.c_str()) != 0) {
    return core::Error::invalid("secret-key",
                                std::string("cannot derive the public key: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(pub.data());
}

core::Result<CurveKeyPair> read_secret_key_file(const std::filesystem::path& path) {
  auto text = read_text(path);
  if (!text.ok()) {
    return text.error();
  }
  auto cert = parse_certificate(*text, path.string());
  if (!cert.ok()) {
    return cert.error();
  }
  if (cert->secret_key.empty()) {
    return core::Error::invalid("secret-key", path.string() +
                                                  " holds no secret-key (a public certificate was given "
                                                  "where this service's own secret certificate is needed)");
  }
  auto derived = public_key_of(cert->secret_key);
  if (!derived.ok()) {
    return derived.error();
  }
  if (!cert->public_keys.empty() && cert->public_keys.front() != *derived) {
    return core::Error::invalid("public-key",
                                path.string() + ": public-key does not belong to its secret-key");
  }
  return CurveKeyPair{*derived, cert->secret_key};
}

core::Result<std::vector<std::string>> read_public_keys(const std::filesystem::path& path) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".key") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<std::string> keys;
  for (const auto& file : files) {
    auto text = read_text(file);
    if (!text.ok()) {
      return text.error();
    }
    auto cert = parse_certificate(*text, file.string());
    if (!cert.ok()) {
      return cert.error();
    }
    keys.insert(keys.end(), cert->public_keys.begin(), cert->public_keys.end());
  }
  if (keys.empty()) {
    return core::Error::invalid("path", "no public key in " + path.string());
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::string public_certificate(std::string_view public_key) {
  return "# cocktaildb-analytics event bus: CURVE public key (may be shared).\n"
         "# List it in a publisher's --bus-authorized-keys, or give it to\n"
         "# subscribers as --bus-server-key.\n\n"
         "metadata\n"
         "curve\n"
         "    public-key = \"" +
         std::string(public_key) + "\"\n";
}

std::string secret_certificate(const CurveKeyPair& keys) {
  return "# cocktaildb-analytics event bus: CURVE key pair. SECRET: readable by\n"
         "# the service that owns it only (--bus-key-file); never copy it elsewhere.\n\n"
         "metadata\n"
         "curve\n"
         "    public-key = \"" +
         keys.public_key +
         "\"\n"
         "    secret-key = \"" +
         keys.secret_key + "\"\n";
}

core::Status write_key_files(const std::filesystem::path& stem, const CurveKeyPair& keys, bool overwrite) {
  const std::filesystem::path pub = stem.string() + ".key";
  const std::filesystem::path sec = stem.string() + ".key_secret";
  if (!overwrite) {
    for (const auto& p : {pub, sec}) {
      if (std::filesystem::exists(p)) {
        return core::Error::conflict("path", p.string() + " exists (pass --force to replace it)");
      }
    }
  }
  try {
    write_atomically(sec, secret_certificate(keys), 0600);
    write_atomically(pub, public_certificate(keys.public_key), 0644);
  } catch (const std::exception& e) {
    return core::Error::internal(e.what());
  }
  return core::Ok{};
}

}  // namespace cocktail::bus
