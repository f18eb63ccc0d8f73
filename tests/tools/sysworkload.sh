#!/bin/bash
# sysworkload.sh: what a package manager, an administrator and a developer
# do to a root file system, run as root in a chroot of a merged view
# (tests/workload.bats runs it on layerfs and on the kernel's overlayfs,
# over the same lower layer made from this machine's /usr and copies of
# its /etc and dpkg database, and compares what it leaves behind).
#
# Every step must succeed and give the same output on both; nothing may
# depend on the time or on inode numbers (see workload.bats for the few
# files that record them). Tools that this machine lacks are left out the
# same way on both sides. The trace of the commands goes to descriptor 9
# when it is open (the order of a pipeline's lines in it varies).
set -euo pipefail
if { true >&9; } 2>/dev/null; then
	BASH_XTRACEFD=9
	set -x
fi
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin LC_ALL=C HOME=/root
umask 022
cd /
have() { command -v "$1" >/dev/null; }

# -- packages: build two versions of one, install, upgrade over a changed
# conffile, divert a file of the lower layer, remove a package of the
# lower layer, purge
mkpkg() { # mkpkg VERSION
	local d=/tmp/pkg/lfsdemo-$1 i
	mkdir -p "$d/DEBIAN" "$d/usr/share/lfsdemo" "$d/etc/lfsdemo" "$d/usr/bin" "$d/usr/share/doc/lfsdemo"
	printf 'Package: lfsdemo\nVersion: %s.0\nArchitecture: all\nMaintainer: layerfs tests <root@localhost>\nDescription: layerfs test package\n' "$1" >"$d/DEBIAN/control"
	echo /etc/lfsdemo/demo.conf >"$d/DEBIAN/conffiles"
	printf '#!/bin/sh\nset -e\nmkdir -p /var/lib/lfsdemo\necho "postinst $1" >>/var/lib/lfsdemo/log\n' >"$d/DEBIAN/postinst"
	chmod 755 "$d/DEBIAN/postinst"
	for i in $(seq 1 150); do
		echo "version $1, file $i" >"$d/usr/share/lfsdemo/f$i"
	done
	# version 2 drops f10-f19 and f100-f150
	[ "$1" = 1 ] || rm "$d"/usr/share/lfsdemo/f1[0-9]*
	ln "$d/usr/share/lfsdemo/f2" "$d/usr/share/lfsdemo/link2"
	echo "setting=$1" >"$d/etc/lfsdemo/demo.conf"
	printf '#!/bin/sh\necho lfsdemo %s\n' "$1" >"$d/usr/bin/lfsdemo"
	chmod 755 "$d/usr/bin/lfsdemo"
	echo "changes $1" | gzip -9n >"$d/usr/share/doc/lfsdemo/changelog.gz"
	# the same bytes on both sides: apt prints the size
	find "$d" -exec touch -h -d @1700000000 {} +
	SOURCE_DATE_EPOCH=1700000000 dpkg-deb -Zgzip --build "$d" "/tmp/pkg/lfsdemo_$1.deb"
}
mkpkg 1
mkpkg 2
# apt builds its caches in shared mappings of files it grows (a docker
# image's apt.conf.d may turn them off)
if have apt-get && [ -d /var/lib/apt/lists ]; then
	caches=(-o Dir::Cache::pkgcache=/var/cache/apt/pkgcache.bin
		-o Dir::Cache::srcpkgcache=/var/cache/apt/srcpkgcache.bin)
	apt-get "${caches[@]}" install -y -q /tmp/pkg/lfsdemo_1.deb
	apt-cache "${caches[@]}" gencaches
	apt-cache "${caches[@]}" policy lfsdemo coreutils
	apt-cache "${caches[@]}" show lfsdemo
	apt-cache "${caches[@]}" depends bash
	apt-cache "${caches[@]}" stats
else
	dpkg -i /tmp/pkg/lfsdemo_1.deb
fi
echo local=1 >>/etc/lfsdemo/demo.conf
dpkg -i --force-confold /tmp/pkg/lfsdemo_2.deb
lfsdemo
cat /etc/lfsdemo/demo.conf /var/lib/lfsdemo/log
dpkg-divert --add --rename --divert /usr/bin/true.distrib /usr/bin/true
cp /usr/bin/false /usr/bin/true
dpkg-divert --add --rename --divert /usr/bin/printf.distrib /usr/bin/printf
dpkg-divert --remove --rename /usr/bin/printf
dpkg -r --force-depends psmisc
dpkg -s psmisc | grep Status || true
dpkg -L lfsdemo | sort | sed -n 1,5p

# -- accounts: the shadow tools lock with link(2) and replace by rename(2)
groupadd -g 2345 lfsgrp
useradd -m -u 2345 -g 2345 -s /bin/bash lfsone
usermod -aG lfsgrp root
useradd -m -u 2346 lfstwo
userdel -r lfsone
grep -c . /etc/passwd /etc/group /etc/shadow
stat -c "%n %a %U %G" /home/*

# -- system configuration
ldconfig
sed -i '1i # edited by sysworkload' /etc/hosts
perl -pi -e 's/^#\s*//' /etc/ld.so.conf.d/*.conf 2>/dev/null || true
update-alternatives --install /usr/bin/lfsalt lfsalt /usr/bin/true.distrib 10
update-alternatives --install /usr/bin/lfsalt lfsalt /usr/bin/env 20
update-alternatives --remove lfsalt /usr/bin/env
readlink /usr/bin/lfsalt /etc/alternatives/lfsalt

# -- python: byte-compile over existing lower files, a database with a
# write-ahead log (its index is a shared mapping)
python3 -m compileall -q -f /usr/lib/python3*/json
python3 - <<'EOF'
import sqlite3
c = sqlite3.connect("/root/db.sqlite")
c.execute("pragma journal_mode=wal")
c.execute("create table t(x integer, y text)")
c.executemany("insert into t values(?, ?)", [(i, "row %d" % i) for i in range(20000)])
c.commit()
c.execute("delete from t where x % 3 = 0")
c.commit()
c.execute("pragma wal_checkpoint(truncate)")
print(c.execute("select count(*), sum(x) from t").fetchone())
c.close()
c = sqlite3.connect("/root/db.sqlite")
c.execute("pragma journal_mode=delete")
c.execute("vacuum")
c.close()
EOF

# -- a build
mkdir -p /root/src
cd /root/src
printf '#include <stdio.h>\nint f(void);\nint main(void) { printf("%%d\\n", f()); return 0; }\n' >main.c
printf 'int f(void) { return 42; }\n' >f.c
printf 'prog: main.o libf.a\n\tcc -o $@ main.o libf.a\nlibf.a: f.o\n\tar rcs $@ f.o\n' >Makefile
if have cc && have make; then
	make -s
	./prog
	make -s -B
	./prog
fi
cd /

# -- git: lock files, renames, packs
if have git; then
	export GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000
	git config --global user.email root@localhost
	git config --global user.name root
	git init -q /root/repo
	cd /root/repo
	cp /etc/passwd /etc/group .
	git add .
	git commit -qm one
	sed -i s/root/ROOT/ passwd
	git commit -qam two
	git gc -q
	git log --format=%H%n%s
	cd /
fi

# -- archives, trees and permissions
tar --sort=name -C /usr/share -cf /tmp/doc.tar doc/dpkg doc/bash
mkdir /opt/x
tar -C /opt/x -xf /tmp/doc.tar
tar -C /opt/x --overwrite -xf /tmp/doc.tar
chown -R 10:10 /opt/x
chmod -R go-rwx /opt/x/doc/bash
tar -C /usr/share -xf /tmp/doc.tar
cp -al /usr/share/zoneinfo/Asia /root/asia
cp -a /usr/share/zoneinfo/Africa /root/africa
rm -rf /usr/share/doc/p* /usr/share/man/man8
mkdir /usr/share/man/man8
echo new >/usr/share/man/man8/x.8
mv /usr/share/zoneinfo/Europe /usr/share/zoneinfo/Europa
mv /etc/default /etc/default.old
mkdir /etc/default
cp -a /etc/default.old/. /etc/default/
find /usr/share/locale -path '*/de/*' -name '*.mo' -delete
chmod 4755 /usr/bin/lfsdemo
chown 5:5 /usr/bin/lfsdemo
ln -sf /usr/bin/lfsdemo /usr/local/bin/lfs-sym
ln /usr/bin/env /usr/local/bin/env-hard
ln -s /nonexistent/target /usr/local/bin/dangling
mkfifo /root/fifo
install -m 0644 /etc/hostname /etc/issue.net
cp -a /usr/lib/x86_64-linux-gnu/libz.so* /usr/local/lib/ 2>/dev/null || true
: >/etc/motd
truncate -s 3 /etc/issue
touch -d @1000000000 /etc/issue
if have setfacl; then
	setfacl -m u:2346:rw /etc/issue.net
	setfacl -d -m g:lfsgrp:rx /opt/x
	mkdir /opt/x/inherits
	getfacl -cp /etc/issue /etc/issue.net /opt/x/inherits
fi
if have setcap; then
	touch /usr/local/bin/env-lower
	getcap /usr/local/bin/env-lower
	cp /usr/bin/env /usr/local/bin/env-cap
	setcap cap_net_raw+ep /usr/local/bin/env-cap
	setcap cap_net_bind_service+ep /usr/bin/env
	getcap /usr/local/bin/env-cap /usr/bin/env
fi
setfattr -n user.lfs -v one /etc/hosts 2>/dev/null || true
flock /root/lock echo locked

# -- and away again
dpkg --purge lfsdemo
rm -rf /tmp/pkg /tmp/doc.tar
echo "sysworkload: done"
