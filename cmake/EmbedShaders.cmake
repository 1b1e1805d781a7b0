# Embeds hand-written GLSL files from shaders/ as C++ string constants and syntax-checks each with
# glslangValidator at build time (when it is installed). Generated: <build>/generated/shaders.cpp.
find_program(GLSLANG_VALIDATOR glslangValidator)

function(descent_embed_shaders prefix)
  set(out_cpp ${CMAKE_CURRENT_BINARY_DIR}/generated/embedded_shaders.cpp)
  set(script ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_shaders_script.cmake)
  set(stamps)
  if(GLSLANG_VALIDATOR)
    foreach(f ${ARGN})
      get_filename_component(n ${f} NAME)
      set(stamp ${CMAKE_CURRENT_BINARY_DIR}/generated/${n}.checked)
      add_custom_command(OUTPUT ${stamp}
        COMMAND ${CMAKE_COMMAND} -DVALIDATOR=${GLSLANG_VALIDATOR} -DFILE=${f} -DSTAMP=${stamp}
                -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_shader.cmake
        DEPENDS ${f} ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_shader.cmake
        COMMENT "glslangValidator ${n}")
      list(APPEND stamps ${stamp})
    endforeach()
  endif()
  add_custom_command(OUTPUT ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_cpp} "-DFILES=${ARGN}" -P ${script}
    DEPENDS ${ARGN} ${script} ${stamps}
    COMMENT "Embedding GLSL shaders")
  set(${prefix}_SOURCES ${out_cpp} PARENT_SCOPE)
endfunction()
