# Writes OUT: a C++ file holding every SCHEMAS/NNN_*.sql as a string, so the
# binary carries its migrations and knows the newest version it speaks.
# FUNCTION names the accessor (migrations for SQLite, postgresMigrations).
if(NOT FUNCTION)
  set(FUNCTION migrations)
endif()
file(GLOB files ${SCHEMAS}/[0-9][0-9][0-9]_*.sql)
list(SORT files)
set(body "// Generated from ${SCHEMAS} by cmake/embed_migrations.cmake. Do not edit.\n#include \"archive/migrations.h\"\n\nnamespace sipwarden::archive {\n\nconst std::vector<Migration>& ${FUNCTION}() {\n  static const std::vector<Migration> list = {\n")
foreach(path ${files})
  get_filename_component(name ${path} NAME)
  string(SUBSTRING ${name} 0 3 version)
  math(EXPR version "${version}")
  file(READ ${path} sql)
  set(body "${body}    {${version}, \"${name}\", R\"sipwardensql(${sql})sipwardensql\"},\n")
endforeach()
set(body "${body}  };\n  return list;\n}\n\n}  // namespace sipwarden::archive\n")
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
