#pragma once
#include <stdbool.h>
#include <stddef.h>

/* True when KVM actually runs a guest here (cached for a day per host kernel and qemu build). */
bool accel_kvm_works(const char *work_dir, char *detail, size_t sz);
