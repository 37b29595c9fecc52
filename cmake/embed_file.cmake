# Writes OUT: a C++ file defining `const std::string& NAME()` in NAMESPACE
# with the bytes of IN, so the binary serves the file with no asset on disk.
file(READ ${IN} content)
string(FIND "${content}" ")sipwardenembed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter")
endif()
set(body "// Generated from ${IN} by cmake/embed_file.cmake. Do not edit.\n#include <string>\n\nnamespace ${NAMESPACE} {\n\nconst std::string& ${NAME}() {\n  static const std::string text = R\"sipwardenembed(${content})sipwardenembed\";\n  return text;\n}\n\n}  // namespace ${NAMESPACE}\n")
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
