# tests/deb.bash: the Debian package under a real systemd, for
# tests/34-deb.bats (with tests/systemd.bash).
#
#   deb_root            the container's root: tests/systemd.bash's (sd_root,
#                       cached), copied and set up by deb_root_setup once,
#                       cached beside it keyed on deb_root_setup's text;
#                       prints its directory
#   deb_root_setup DIR  cron, ucf (the package's dependency) and
#                       systemd-sysv installed (/sbin/init: without it
#                       invoke-rc.d starts and stops nothing, and exim4's
#                       daemon would outlive its package),
#                       apt's lists, and exim4-daemon-light, mailutils and
#                       the package's Recommends (ca-certificates, curl)
#                       with what they need downloaded into apt's cache,
#                       as apt inside the container has no network (only
#                       lo): "apt-get install mailutils" there resolves
#                       against the lists and installs from the cache.
#                       exim4 is installed in the container, booted (the
#                       suite's setup_file): in a chroot its configure
#                       fails ("user mail was not found", bookworm's 4.96)
#   deb_apt ARGS...     apt-get inside, non-interactive, offline
#   deb_version_repack DEB VERSION OUT
#                       the same package under another version: unpacked
#                       with dpkg-deb -R, Version changed, packed again
#   deb_previous TOP VERSION OUT
#                       the package of the commit before TOP's HEAD (the
#                       "previous" package of the upgrade test): that
#                       commit's tree (git archive) built with its own
#                       make deb in a directory of its own (without
#                       lintian and -dbgsym), removed
#                       after; cached under $SD_CACHE keyed on the
#                       commit.  When its changelog gives no version
#                       lower than VERSION (the new package's; a commit
#                       that did not bump it), it is repacked as
#                       VERSION~prev, so that installing the new one is
#                       an upgrade.  Fails saying why when TOP is not a
#                       git checkout or has no commit before HEAD (a
#                       shallow clone from which git fetch --deepen=1
#                       cannot get it).  Prints the build's seconds.

deb_root_setup() {
	local r=$1
	chroot "$r" apt-get -q update &&
	    chroot "$r" apt-get -q clean &&
	    chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
	    --no-install-recommends install cron ucf systemd-sysv &&
	    chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
	    --download-only install exim4-daemon-light mailutils \
	    ca-certificates curl &&
	    ls "$r"/var/cache/apt/archives/mailutils_*.deb \
	    "$r"/var/cache/apt/archives/exim4-daemon-light_*.deb
}

deb_root() {
	local base key dir
	base=$(sd_root) || return 1
	key=$(printf '%s\n' "$base" "$(declare -f deb_root_setup)" |
	    sha256sum | cut -c1-12)
	dir=$SD_CACHE/deb-$key
	(
		flock 9 || exit 1
		[ -f "$dir/.complete" ] && exit 0
		rm -rf "$dir" "$dir.new"
		cp -a "$base" "$dir.new" && rm -f "$dir.new/.complete" &&
		    deb_root_setup "$dir.new" >"$SD_CACHE/deb-root.log" 2>&1 || {
			echo "deb_root_setup failed:" >&2
			tail -n 20 "$SD_CACHE/deb-root.log" >&2
			rm -rf "$dir.new"; exit 1; }
		mv "$dir.new" "$dir" && touch "$dir/.complete"
	) 9>"$SD_CACHE/deb.lock" || return 1
	echo "$dir"
}

deb_apt() {
	sd env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
	    -o Acquire::Retries=0 -o Dpkg::Use-Pty=0 "$@"
}

deb_version_repack() {
	local deb=$1 version=$2 out=$3 dir
	dir=$(mktemp -d) || return 1
	dpkg-deb -R "$deb" "$dir/x" &&
	    sed -i "s/^Version: .*/Version: $version/" "$dir/x/DEBIAN/control" &&
	    dpkg-deb --root-owner-group -b "$dir/x" "$out" >/dev/null
	local rc=$?
	rm -rf "$dir"
	return $rc
}

deb_previous() {
	local top=$1 version=$2 out=$3 commit cache dir t0 rc pv
	git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || {
		echo "$top is not a git checkout: the upgrade test builds the package of the commit before HEAD" >&2
		return 1; }
	# A shallow clone (CI may make one) has no commit before HEAD: fetch
	# it once; only when that fails too, fail saying so.
	commit=$(git -C "$top" rev-parse -q --verify 'HEAD~1^{commit}') ||
	    { timeout 120 git -C "$top" fetch -q --deepen=1 >&2 &&
	    commit=$(git -C "$top" rev-parse -q --verify 'HEAD~1^{commit}'); } || {
		echo "$top has no commit before HEAD and git fetch --deepen=1 could not get it: the upgrade test builds its package" >&2
		return 1; }
	mkdir -p "$SD_CACHE" || return 1
	cache=$SD_CACHE/prev-deb-$commit.deb
	t0=$SECONDS
	if [ ! -f "$cache" ]; then
		dir=$(mktemp -d) || return 1
		# Only the package to upgrade from: lintian's verdict on that
		# commit was its own test run's (here a lintian that passes
		# all: some 6 s of CPU saved), and no -dbgsym package.
		mkdir "$dir/src" "$dir/bin" &&
		    printf '#!/bin/sh\nexit 0\n' >"$dir/bin/lintian" &&
		    chmod +x "$dir/bin/lintian" &&
		    git -C "$top" archive --format=tar "$commit" |
		    tar -C "$dir/src" -xf - &&
		    PATH=$dir/bin:$PATH \
		    DEB_BUILD_OPTIONS="parallel=2 noautodbgsym" \
		    make -s -C "$dir/src" deb >"$dir/make-deb.out" 2>&1 &&
		    cp "$dir"/src/build/deb/smtpq_*.deb "$cache.new" &&
		    mv "$cache.new" "$cache"
		rc=$?
		[ "$rc" -eq 0 ] || { echo "make deb of $commit failed:" >&2
			tail -n 20 "$dir/make-deb.out" >&2; }
		rm -rf "$dir" "$cache.new"
		[ "$rc" -eq 0 ] || return 1
		# One package per commit tested: keep the newest three (other
		# checkouts may be testing theirs), not one for every commit.
		find "$SD_CACHE" -maxdepth 1 -name 'prev-deb-*.deb' \
		    -printf '%T@ %p\n' | sort -rn | tail -n +4 |
		    cut -d' ' -f2- | xargs -r rm -f --
	fi
	pv=$(dpkg-deb -f "$cache" Version) || return 1
	if dpkg --compare-versions "$pv" lt "$version"; then
		cp "$cache" "$out"
	else
		deb_version_repack "$cache" "$version~prev" "$out"
	fi || return 1
	echo $((SECONDS - t0))
}
