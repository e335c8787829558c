# Per-target sanitizer flags (not global CMAKE_C_FLAGS).
function(ns_sanitize target)
    if(NS_SANITIZE)
        target_compile_options(${target} PRIVATE
            -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
        target_link_options(${target} PUBLIC -fsanitize=address,undefined)
    endif()
endfunction()

# libFuzzer builds instrument the library too, so the fuzzer sees coverage in
# the code it exercises, not only in the target's own file.
function(ns_fuzz_instrument target)
    if(NS_FUZZ)
        target_compile_options(${target} PRIVATE
            -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
        target_link_options(${target} PUBLIC -fsanitize=address,undefined)
    endif()
endfunction()
