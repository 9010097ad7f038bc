# kiln: the two entry points are `make demo` and `make check` (see README.md).
BUILD      ?= build
ASAN_BUILD ?= build-asan
CACHE      ?= $(HOME)/.cache/kiln
MESON      ?= meson

.PHONY: all deps build build-asan demo check check-long unit integration images bench clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

images: deps
	@sh tests/images/build.sh busybox
	@sh tests/images/build.sh debian

# The main job: build kiln, build the sample Debian image with kiln, validate it, then sign,
# publish into a gallery, pull it back verified and archive the run (examples/release.sh).
demo: build
	./$(BUILD)/kiln build examples/images/debian-server.yml --out out
	./$(BUILD)/kiln run examples/demo.yml
	sh examples/release.sh ./$(BUILD)/kiln out runs/latest

# All tests, under ASan+UBSan; prints "N passed, N failed" last.
check: build-asan
	@sh tests/run.sh $(ASAN_BUILD)

# Long verifications (hours under TCG): tiers 1 and 2 on the four stock Debian images (no
# false failure), an aarch64 image built and booted under emulation (tier 0), the update cases
# (three debian-update versions built, examples/update.yml), verify_kdump's crash and reboot
# (the debian-hpc example image), the container host (its image built, examples/containers.yml
# and its defects in three VMs), the service end to end on the debian-server image, then the
# reboot series on the demo image.
check-long: build-asan build
	KILN_TESTS=arm64 KILN_ARM64=1 sh tests/run.sh $(ASAN_BUILD)
	KILN_TESTS=update sh tests/run.sh $(ASAN_BUILD)
	# each update case fails on its defect image (a whole update cycle each, after update's clean run)
	KILN_TESTS=update_defects sh tests/run.sh $(ASAN_BUILD)
	KILN_TESTS=kdump sh tests/run.sh $(ASAN_BUILD)
	# the defects whose cases reboot the guest or wait out a timeout (# long: in tests/defects), with the clean run of those cases
	KILN_TESTS=defects KILN_DEFECTS_LONG=only sh tests/run.sh $(ASAN_BUILD)
	# tier 1 on the tuned Debian test image (make check proves each of its cases both ways in defects.sh)
	KILN_TESTS=tier1 sh tests/run.sh $(ASAN_BUILD)
	# area hpc: two two-node Debian environments with soft-RoCE, and its defects
	KILN_TESTS=hpc sh tests/run.sh $(ASAN_BUILD)
	# the rpm guest through all of tier 2, the reboot series of area lifecycle included
	KILN_TESTS=rpm_guest KILN_RPM_LIFECYCLE=1 sh tests/run.sh $(ASAN_BUILD)
	KILN_TESTS=containers sh tests/run.sh $(ASAN_BUILD)
	# storage.encrypt: tpm2: the example built, verify_encrypted_root passing, its two defects caught
	KILN_TESTS=encrypted_root sh tests/run.sh $(ASAN_BUILD)
	# boot.secure_boot with the snakeoil pair: the image built, booted from its disk under enforcing Secure Boot with a swtpm, PCR 4 after a boot loader upgrade
	KILN_TESTS=secure_boot sh tests/run.sh $(ASAN_BUILD)
	# boot.secure_boot: distro: the example built, booted by shim and GRUB under Microsoft's keys, refused under others
	KILN_TESTS=secure_boot_distro sh tests/run.sh $(ASAN_BUILD)
	# issue 14 end to end on a real Debian image: kiln build's debian-server qcow2 through kiln serve, two workers, tier 0, published
	KILN_TESTS=service_debian sh tests/run.sh $(ASAN_BUILD)
	# issue 14's scale: 300 jobs (a TCG VM each) through three workers on PostgreSQL
	KILN_TESTS=service_pg KILN_PG_JOBS=300 sh tests/run.sh $(ASAN_BUILD)
	KILN_TESTS=stock KILN_STOCK_VARIANTS="networkd ifupdown nm cloudinit" KILN_STOCK_TIER=1 sh tests/run.sh $(ASAN_BUILD)
	KILN_TESTS=stock KILN_STOCK_VARIANTS="networkd ifupdown nm cloudinit" KILN_STOCK_TIER=2 sh tests/run.sh $(ASAN_BUILD)
	@sh bench/run-all.sh $(BUILD) reboots

bench: build
	@sh bench/run-all.sh $(BUILD)
	@sh scripts/bench-table.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
