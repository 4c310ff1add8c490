# Every dependency comes from Debian 12's packages; tools/test installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)        # Boost::headers (Beast, Asio)
find_package(simdjson 3 REQUIRED CONFIG)        # simdjson::simdjson
find_package(fmt 9 REQUIRED CONFIG)             # fmt::fmt
find_package(spdlog 1.10 REQUIRED CONFIG)       # spdlog::spdlog
find_package(CLI11 REQUIRED CONFIG)             # CLI11::CLI11
find_package(prometheus-cpp REQUIRED CONFIG)    # no version file ships, so no version argument
find_package(CURL REQUIRED)                     # CURL::libcurl
find_package(OpenSSL REQUIRED)                  # OpenSSL::Crypto (SigV4's SHA-256 and HMAC)

# CAF 0.17.6 ships neither a CMake package nor a pkg-config file: import it by hand.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
add_library(CAF::core UNKNOWN IMPORTED)
set_target_properties(CAF::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(CAF::io UNKNOWN IMPORTED)
set_target_properties(CAF::io PROPERTIES
  IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
  INTERFACE_LINK_LIBRARIES CAF::core)
