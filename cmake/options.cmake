# Compile options shared by every llmux target (not by imported libraries).
add_library(llmux_options INTERFACE)
target_compile_options(llmux_options INTERFACE -Wall -Wextra)
target_include_directories(llmux_options INTERFACE ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/generated)

if(LLMUX_SANITIZE)
  target_compile_options(llmux_options INTERFACE -fsanitize=address,undefined
                         -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(llmux_options INTERFACE -fsanitize=address,undefined)
endif()

# UBSan is left to the fuzz targets without coroutines (tests/fuzz): clang 14 cannot compile
# C++20 coroutines with it ("Cannot represent a difference across sections").
if(LLMUX_FUZZ)
  target_compile_options(llmux_options INTERFACE -fsanitize=fuzzer-no-link,address
                         -fno-omit-frame-pointer)
  target_link_options(llmux_options INTERFACE -fsanitize=address)
endif()

# The version string comes from project(); one generated header carries it to the code.
configure_file(${CMAKE_SOURCE_DIR}/cmake/version.hpp.in
               ${CMAKE_BINARY_DIR}/generated/llmux/version.hpp @ONLY)

# llmux_add_header_check(TARGET HEADERS...): compile every header on its own, so a header that
# forgets one of its includes fails the build instead of the next file that happens to include it.
function(llmux_add_header_check target)
  set(sources)
  foreach(header IN LISTS ARGN)
    string(MAKE_C_IDENTIFIER ${header} stem)
    set(source ${CMAKE_CURRENT_BINARY_DIR}/header_check/${stem}.cpp)
    file(CONFIGURE OUTPUT ${source} CONTENT "#include \"${CMAKE_CURRENT_SOURCE_DIR}/${header}\"\n")
    list(APPEND sources ${source})
  endforeach()
  add_library(${target}_header_check OBJECT ${sources})
  target_link_libraries(${target}_header_check PRIVATE ${target})
endfunction()
