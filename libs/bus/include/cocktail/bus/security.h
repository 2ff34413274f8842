// BusSecurity: who may talk on the event bus, the same settings for every
// service, so that each publisher and subscriber gets CURVE by construction.
//
// With keys, every socket runs CurveZMQ: the publisher (the side that binds)
// is the CURVE server, holds its secret key, and admits only the subscribers
// whose public keys it was given (a ZAP handler refuses every other key, and
// counts it); a subscriber is a CURVE client that knows its publisher's
// public key, so an impostor bound to the publisher's port fails the
// handshake. Every message is encrypted and authenticated. Without keys the
// sockets are plain ZeroMQ: anyone who reaches a port can read the events,
// and anyone who binds a subscriber's endpoint first can forge them. The
// threat model is in docs/operations.md.
//
// Services refuse to run without keys unless anonymous operation is asked
// for explicitly (--allow-anonymous-bus, like --allow-anonymous-writes for
// HTTP). The library types default to anonymous: tests and tools pick.
//
//   core::Options o(...);
//   bus::add_security_options(o);                    // the flags below
//   o.parse_or_exit(argc, argv);
//   auto security = bus::security_from_options(o, {.publishes = true, .subscribes = true});
//   if (!security.ok()) usage_error(security.error().message);
//   publisher_options.security = *security;          // and subscriber_options.security
#pragma once

#include <string>
#include <vector>

#include "cocktail/bus/curve.h"
#include "cocktail/core/options.h"
#include "cocktail/core/result.h"

namespace cocktail::bus {

struct BusSecurity {
  // This process's key pair: the server key of what it publishes and the
  // client key of what it subscribes to. Empty: anonymous (no CURVE).
  std::optional<CurveKeyPair> keys;
  // Publishers: the public keys of the subscribers allowed to connect.
  std::vector<std::string> authorized_keys;
  // Subscribers: the publishers' public keys, one for every endpoint, or one
  // per endpoint in the order of the endpoints.
  std::vector<std::string> server_keys;

  bool curve() const { return keys.has_value(); }
};

// Which sockets a service opens, so that only the settings it needs are
// required.
struct BusRoles {
  bool publishes = false;
  bool subscribes = false;
};

// Registers --bus-key-file, --bus-authorized-keys, --bus-server-key and
// --allow-anonymous-bus (and their environment variables).
void add_security_options(core::Options& options);

// Reads the key files the options name. An error (for a usage message) when
// no key file is given and anonymous operation was not asked for, or when a
// key the roles need is missing or unreadable. Logs a warning when running
// anonymously.
core::Result<BusSecurity> security_from_options(const core::Options& options, BusRoles roles);

// The publishers' public keys named by a subscriber's `flag` (certificate
// files, comma-separated: one for every endpoint, or one per endpoint), for
// a service with a second subscription (--bus-server-key is the first's).
// An error naming the flag when it is empty or a file does not hold one key.
core::Result<std::vector<std::string>> server_keys_from_option(const core::Options& options,
                                                               const std::string& flag);

}  // namespace cocktail::bus
