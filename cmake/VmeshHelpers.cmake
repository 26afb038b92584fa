# vmesh_library(<area> SOURCES ... [DEPS ...])
#   One library per common/<area>, named vmesh_<area>, with the repository root on its include path
#   so that code includes "common/<area>/foo.h".
function(vmesh_library area)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(vmesh_${area} STATIC ${ARG_SOURCES})
  target_include_directories(vmesh_${area} PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  target_link_libraries(vmesh_${area} PUBLIC ${ARG_DEPS})
endfunction()

# vmesh_test(<name> SOURCES ... [DEPS ...] [LABELS ...] [TIMEOUT s])   (LABELS default: unit)
#   A GoogleTest binary registered with CTest (each TEST becomes its own CTest test, so ctest -j
#   spreads them over the cores), named <name>.<Suite>.<Test>. Tests find the source and the build
#   tree through common/base/test_paths.h.
function(vmesh_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # Paths tests need (see common/base/test_paths.h); the environment variables of the same names override them.
  target_compile_definitions(${name} PRIVATE
    VMESH_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    VMESH_TEST_BINARY_DIR="${CMAKE_BINARY_DIR}")
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${name}
    TEST_PREFIX "${name}."
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

include(GoogleTest)
