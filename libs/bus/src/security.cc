#include "cocktail/bus/security.h"

#include <sys/stat.h>

#include "cocktail/core/log.h"

namespace cocktail::bus {

void add_security_options(core::Options& o) {
  o.add_string(
       "--bus-key-file", "BUS_KEY_FILE", "",
       "event bus: this service's CURVE secret certificate (bus-keygen writes one): the server key of "
       "what it publishes, the client key of what it subscribes to")
      .add_string("--bus-authorized-keys", "BUS_AUTHORIZED_KEYS", "",
                  "event bus, publishers: public keys of the subscribers allowed to connect: certificate "
                  "files or directories of *.key files, comma-separated")
      .add_string("--bus-server-key", "BUS_SERVER_KEY", "",
                  "event bus, subscribers: the publisher's public certificate; one for every --sub "
                  "endpoint, or one per endpoint in the same order, comma-separated")
      .add_bool("--allow-anonymous-bus", "ALLOW_ANONYMOUS_BUS", false,
                "development only: publish and subscribe without CURVE when no --bus-key-file is given "
                "(anyone who reaches the ports can read events, and forge them)");
}

core::Result<std::vector<std::string>> server_keys_from_option(const core::Options& o,
                                                               const std::string& flag) {
  const auto paths = o.get_list(flag);
  if (paths.empty()) {
    return core::Error::invalid(flag, "a CURVE subscriber needs its publisher's public key (" + flag + ")");
  }
  std::vector<std::string> keys;
  for (const auto& path : paths) {
    auto key = read_public_keys(path);
    if (!key.ok()) {
      return core::Error::invalid(flag, key.error().message);
    }
    if (key->size() != 1) {
      return core::Error::invalid(
          flag, path + " holds " + std::to_string(key->size()) + " keys; a server key file holds one");
    }
    keys.push_back(key->front());
  }
  return keys;
}

core::Result<BusSecurity> security_from_options(const core::Options& o, BusRoles roles) {
  BusSecurity security;
  if (!roles.publishes && !roles.subscribes) {
    return security;
  }
  const std::string key_file = o.get("--bus-key-file");
  if (key_file.empty()) {
    if (!o.get_bool("--allow-anonymous-bus")) {
      return core::Error::invalid(
          "--bus-key-file",
          "no bus key configured (--bus-key-file / BUS_KEY_FILE): refusing to run the event bus without "
          "CURVE; generate keys with bus-keygen, or pass --allow-anonymous-bus only for development");
    }
    core::log::warn("bus.anonymous", {{"reason", "--allow-anonymous-bus"}});
    return security;
  }
  if (!curve_available()) {
    return core::Error::invalid("--bus-key-file", "this build of ZeroMQ has no CURVE support");
  }
  auto keys = read_secret_key_file(key_file);
  if (!keys.ok()) {
    return core::Error::invalid("--bus-key-file", keys.error().message);
  }
  struct stat st {};
  if (::stat(key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    core::log::warn("bus.key_file_permissions",
                    {{"file", key_file}, {"advice", "the secret key is readable by others: chmod 600"}});
  }
  security.keys = std::move(*keys);

  if (roles.publishes) {
    const auto paths = o.get_list("--bus-authorized-keys");
    if (paths.empty()) {
      return core::Error::invalid("--bus-authorized-keys",
                                  "a CURVE publisher needs the public keys of its subscribers "
                                  "(--bus-authorized-keys / BUS_AUTHORIZED_KEYS)");
    }
    for (const auto& path : paths) {
      auto more = read_public_keys(path);
      if (!more.ok()) {
        return core::Error::invalid("--bus-authorized-keys", more.error().message);
      }
      security.authorized_keys.insert(security.authorized_keys.end(), more->begin(), more->end());
    }
  }
  if (roles.subscribes) {
    auto keys = server_keys_from_option(o, "--bus-server-key");
    if (!keys.ok()) {
      return keys.error();
    }
    security.server_keys = std::move(*keys);
  }
  return security;
}

}  // namespace cocktail::bus
