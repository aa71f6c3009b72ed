// appointd: a booking backend. See README.md and DESIGN.md.
#include <iostream>
#ifdef APPOINTD_MIMALLOC
#include <mimalloc.h>
#endif

#include "cli/commands.h"
#include "obs/log.h"

int main(int argc, char** argv) {
#ifdef APPOINTD_MIMALLOC
  (void)mi_version();  // a reference, so that --as-needed keeps the allocator linked
#endif
  CLI::App app{"appointd: appointments that never collide"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may follow the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug|info|warn|error")->envname("APPOINTD_LOG_LEVEL");
  appointd::cli::add_serve(app);
  appointd::cli::add_migrate(app);
  appointd::cli::add_demo(app);
  appointd::cli::add_keys(app);
  appointd::cli::add_audit(app);
  appointd::cli::add_backup(app);
  appointd::cli::add_restore(app);
  appointd::cli::add_worker(app);
  appointd::cli::add_sync(app);
  try {
    app.parse_complete_callback([&] { appointd::obs::init_logging(log_level); });
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "appointd: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
