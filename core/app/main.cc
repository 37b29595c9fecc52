// sipwarden command line: run the hop, check a config, print the version.
#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Exception.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "app/archive_command.h"
#include "app/config.h"
#include "app/policy_test.h"
#include "app/query_command.h"
#include "app/runner.h"
#include "archive/sqlite_store.h"

namespace {

using sipwarden::app::AppConfig;
using sipwarden::app::ConfigError;

constexpr const char* kUsage =
    "usage:\n"
    "  sipwarden run [--config FILE] [--listen udp:IP:PORT] [--listen tcp:IP:PORT] [--listen tls:IP:PORT]\n"
    "                [--upstream HOST:PORT[;transport=tcp|tls]]... [--advertise HOST] [--log-level LEVEL]\n"
    "                [--pid-file FILE]\n"
    "  sipwarden check-config FILE\n"
    "  sipwarden reload --pid-file FILE\n"
    "  sipwarden archive verify (--db FILE | --config FILE) [--checkpoints DIR|FILE --public-key FILE]\n"
    "  sipwarden archive keygen --out FILE\n"
    "  sipwarden query messages|conversations|calls|conversation ID|stats|audit (--db FILE | --config FILE) ...\n"
    "  sipwarden export (--conversation ID | --participant URI) --format eml|json|html --out DIR ...\n"
    "  sipwarden policy test (--config FILE | --script FILE.lua [--settings FILE.json]) [--json]\n"
    "                        [--from-upstream] (--cases DIR | MESSAGE.sip...)\n"
    "  sipwarden --version\n";

void setUpLogging(const std::string& level) {
  Poco::AutoPtr<Poco::PatternFormatter> formatter(new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t"));
  Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::root().setLevel(level);
  // Loggers fetched before this point were created with the old settings.
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}

int runCommand(const std::vector<std::string>& args) {
  AppConfig config;
  std::vector<std::string> listens;
  std::vector<std::string> upstreams;
  std::string logLevel;
  std::string advertise;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw ConfigError(arg + ": missing value");
      return args[++i];
    };
    if (arg == "--config") {
      config = sipwarden::app::loadConfigFile(value());
    } else if (arg == "--listen") {
      listens.push_back(value());
    } else if (arg == "--upstream") {
      upstreams.push_back(value());
    } else if (arg == "--log-level") {
      logLevel = value();
    } else if (arg == "--advertise") {
      advertise = value();
    } else if (arg == "--pid-file") {
      config.pidFile = value();
    } else {
      throw ConfigError(arg + ": unknown option\n" + kUsage);
    }
  }
  // Flags override the file, whatever order they came in.
  if (!listens.empty()) {
    config.listen.clear();
    for (const auto& listen : listens) config.listen.push_back(sipwarden::app::parseListen(listen));
  }
  if (!upstreams.empty()) {
    config.proxy.upstreams.clear();
    for (const auto& upstream : upstreams) config.proxy.upstreams.push_back(sipwarden::app::parseUpstream(upstream));
  }
  if (!logLevel.empty()) config.logLevel = logLevel;
  if (!advertise.empty()) {
    config.proxy.advertisedHost = advertise;
    config.advertiseSet = true;
  }
  sipwarden::app::finalizeConfig(config);
  setUpLogging(config.logLevel);
  return sipwarden::app::run(config);
}

}  // namespace

int main(int argc, char** argv) {
  sipwarden::archive::tuneSqliteForProcess();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    if (args[0] == "--version" || args[0] == "version") {
      std::cout << "sipwarden " << SIPWARDEN_VERSION << " (commit " << SIPWARDEN_COMMIT << ")\n";
      return 0;
    }
    if (args[0] == "check-config") {
      if (args.size() != 2) {
        std::cerr << kUsage;
        return 2;
      }
      AppConfig config = sipwarden::app::loadConfigFile(args[1]);
      sipwarden::app::finalizeConfig(config);
      const auto chain = sipwarden::app::buildChain(config);
      std::cout << args[1] << ": OK (" << chain->entries().size() << " plugins)\n";
      return 0;
    }
    if (args[0] == "run") return runCommand({args.begin() + 1, args.end()});
    if (args[0] == "reload") return sipwarden::app::reloadCommand({args.begin() + 1, args.end()});
    if (args[0] == "archive") return sipwarden::app::archiveCommand({args.begin() + 1, args.end()});
    if (args[0] == "query") return sipwarden::app::queryCommand({args.begin() + 1, args.end()});
    if (args[0] == "export") return sipwarden::app::exportCommand({args.begin() + 1, args.end()});
    if (args[0] == "policy" && args.size() > 1 && args[1] == "test") {
      return sipwarden::app::policyTestCommand({args.begin() + 2, args.end()});
    }
    std::cerr << "unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
  } catch (const ConfigError& error) {
    std::cerr << "sipwarden: config error: " << error.what() << "\n";
    return 1;
  } catch (const Poco::Exception& error) {
    std::cerr << "sipwarden: " << error.displayText() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "sipwarden: " << error.what() << "\n";
    return 1;
  }
}
