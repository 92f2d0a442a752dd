#!/usr/bin/env bash
# Builds the amd64 .deb with tools/package/build-deb.sh (its own build tree under OUTDIR is kept,
# so later runs are incremental; lintian must report no error) and checks what a user gets:
# the files meson install promises, /etc as conffiles, Depends: from dpkg-shlibdeps plus the
# runtime-only packages, maintainer scripts that enable nothing, and a program built against
# the installed headers with `pkg-config vitd` that reads a vit-classification message.
#   test_deb.sh SOURCE_ROOT OUTDIR
set -euo pipefail
src=$1 out=$2
for tool in dpkg-deb dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null || { echo "$tool missing: skipping"; exit 77; }
done
arch=$(dpkg --print-architecture)
deb=$(bash "$src/tools/package/build-deb.sh" "$arch" "$out" | tail -n 1)
fail=0
check() { # DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
multiarch=$(gcc -print-multiarch)
for f in usr/bin/vitd usr/bin/vitctl usr/bin/vit-infer \
         usr/lib/$multiarch/gstreamer-1.0/libgstvit.so lib/systemd/system/vitd.service \
         usr/share/dbus-1/system.d/org.vitd1.conf usr/lib/sysusers.d/vitd.conf \
         usr/share/doc/vitd/README.md usr/share/doc/vitd/copyright \
         usr/share/doc/vitd/changelog.Debian.gz usr/include/vitd/gstvitclassification.h \
         usr/lib/$multiarch/pkgconfig/vitd.pc usr/share/vitd/models/fmnist-vit-tiny/model.safetensors \
         usr/share/vitd/demo/run.sh etc/vitd/vitd.yaml usr/share/man/man8/vitd.8.gz \
         usr/share/man/man1/vitctl.1.gz usr/share/man/man1/vit-infer.1.gz \
         usr/share/man/man1/vit-eval.1.gz; do
  check "ships /$f" grep -qx "./$f" <<<"$contents"
done
check "the unit's Documentation= is shipped" \
  bash -c "dpkg-deb --fsys-tarfile '$deb' | tar -xO ./lib/systemd/system/vitd.service |
    grep '^Documentation=file:///usr/share/doc/vitd/README.md' >/dev/null"
conffiles=$(dpkg-deb -I "$deb" conffiles)
check "/etc/vitd/vitd.yaml is a conffile" grep -qx /etc/vitd/vitd.yaml <<<"$conffiles"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libgstreamer1.0-0 libopenblas0 libpangocairo-1.0-0 libsystemd0 systemd dbus \
         gstreamer1.0-plugins-base; do
  check "Depends: $d" grep -qE "(^|, )$d( |,|$)" <<<"$depends"
done
postinst=$(dpkg-deb -I "$deb" postinst)
check "postinst creates the user" grep -q 'systemd-sysusers vitd.conf' <<<"$postinst"
check "postinst enables and starts nothing" \
  bash -c "! grep -v '^ *#' <<<'$postinst' | grep -qE 'enable|start'"
check "prerm stops the service on remove" bash -c "dpkg-deb -I '$deb' prerm | grep -q 'stop vitd.service'"

# The pkg-config file, used from the unpacked package.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
cat >"$root/reader.c" <<'EOC'
#include <gstvitclassification.h>
#include <gstvitmeta.h>

int main(void)
{
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    GstStructure *s;

    gst_init(NULL, NULL);
    s = gst_structure_from_string(VIT_CLASSIFICATION_MESSAGE ", frame=(guint64)7, "
                                  "labels=(string)< Bag >, scores=(double)< 0.9 >;", NULL);
    if (s == NULL || !gst_vit_classification_parse(s, &c) || c.n_classes != 1)
        return 1;
    g_print("%" G_GUINT64_FORMAT " %s %s\n", c.frame, c.labels[0],
            g_type_name(GST_VIT_CLASSIFICATION_META_API_TYPE));
    gst_structure_free(s);
    return 0;
}
EOC
# vitd.pc with its prefix moved to the unpacked tree (gstreamer-1.0.pc stays the system's).
mkdir "$root/pc"
sed "s|^prefix=.*|prefix=$root/usr|" "$root/usr/lib/$multiarch/pkgconfig/vitd.pc" >"$root/pc/vitd.pc"
flags=$(PKG_CONFIG_PATH=$root/pc pkg-config --cflags --libs vitd)
check "a program builds with pkg-config vitd" gcc -o "$root/reader" "$root/reader.c" $flags
check "and reads a vit-classification message" \
  bash -c "'$root/reader' | grep -qx '7 Bag GstVitClassificationMetaAPI'"
[ "$fail" = 0 ] && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
