// A shared object that is not a sipwarden plugin: no entry point.
extern "C" int not_a_plugin() { return 42; }
