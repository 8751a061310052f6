#!/bin/bash
# Sign dist/connectcheck.app with a Developer ID, pack it into a disk image, have Apple notarise the
# image and staple the ticket, so that Gatekeeper opens it on a tutor's Mac without warnings.
#
# Run on a Mac with Xcode's command line tools, after `python installer/build.py` built the .app:
#
#   CONNECTCHECK_SIGN_IDENTITY="Developer ID Application: Example Ltd (AB12CD34EF)" \
#   CONNECTCHECK_NOTARY_PROFILE=connectcheck-notary \
#   installer/macos/sign-and-notarise.sh [path/to/connectcheck.app]
#
# Environment:
#   CONNECTCHECK_SIGN_IDENTITY   (required) the "Developer ID Application" certificate's name, as
#                                `security find-identity -v -p codesigning` lists it
#   CONNECTCHECK_NOTARY_PROFILE  a notarytool keychain profile, made once with
#                                `xcrun notarytool store-credentials connectcheck-notary`
#   or, instead of a profile, all three of:
#   CONNECTCHECK_APPLE_ID        the Apple ID of the developer account
#   CONNECTCHECK_TEAM_ID         its team ID (10 characters)
#   CONNECTCHECK_APP_PASSWORD    an app-specific password of that Apple ID
#   CONNECTCHECK_SKIP_NOTARY=1   sign and pack only (a test of the signing; Gatekeeper will still warn)
#
# Writes dist/connectcheck-<version>-macos.dmg. Every binary inside the .app is signed with the
# hardened runtime and a secure timestamp, from the inside out (no --deep), with entitlements.plist.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
app=${1:-$root/dist/connectcheck.app}
entitlements=$here/entitlements.plist

problems=()
[ "$(uname -s)" = Darwin ] || problems+=("this runs on macOS only (this is $(uname -s))")
for tool in codesign xcrun hdiutil spctl /usr/libexec/PlistBuddy; do
    command -v "$tool" >/dev/null 2>&1 || problems+=("$tool is missing (it comes with macOS and Xcode's command line tools)")
done
[ -d "$app" ] || problems+=("there is no $app: build it first with python installer/build.py")
[ -n "${CONNECTCHECK_SIGN_IDENTITY:-}" ] || problems+=("CONNECTCHECK_SIGN_IDENTITY is not set (the Developer ID Application certificate)")
if [ "${CONNECTCHECK_SKIP_NOTARY:-}" != 1 ] && [ -z "${CONNECTCHECK_NOTARY_PROFILE:-}" ]; then
    for var in CONNECTCHECK_APPLE_ID CONNECTCHECK_TEAM_ID CONNECTCHECK_APP_PASSWORD; do
        [ -n "${!var:-}" ] || problems+=("$var is not set (or set CONNECTCHECK_NOTARY_PROFILE instead)")
    done
fi
if [ "${#problems[@]}" -gt 0 ]; then
    echo "sign-and-notarise.sh cannot run:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    echo "See the comments at the top of $0 and installer/README.md." >&2
    exit 2
fi

version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$app/Contents/Info.plist")
dmg=$root/dist/connectcheck-$version-macos.dmg
sign() {
    codesign --force --timestamp --options runtime --entitlements "$entitlements" \
        --sign "$CONNECTCHECK_SIGN_IDENTITY" "$@"
}

echo "Signing the libraries and programs inside $app..."
while IFS= read -r -d '' file; do
    if file -b "$file" | grep -q "Mach-O"; then sign "$file"; fi
done < <(find "$app/Contents" -type f \( -name "*.dylib" -o -name "*.so" -o -perm -u+x \) -print0)
while IFS= read -r -d '' framework; do sign "$framework"; done \
    < <(find "$app/Contents" -type d -name "*.framework" -print0)
sign "$app"
codesign --verify --strict --verbose=2 "$app"

echo "Packing $dmg..."
rm -f "$dmg"
hdiutil create -volname connectcheck -srcfolder "$app" -ov -format UDZO "$dmg"
codesign --force --timestamp --sign "$CONNECTCHECK_SIGN_IDENTITY" "$dmg"

if [ "${CONNECTCHECK_SKIP_NOTARY:-}" = 1 ]; then
    echo "Signed, not notarised (CONNECTCHECK_SKIP_NOTARY=1): $dmg"
    exit 0
fi
echo "Notarising (this takes a few minutes)..."
if [ -n "${CONNECTCHECK_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$dmg" --keychain-profile "$CONNECTCHECK_NOTARY_PROFILE" --wait
else
    xcrun notarytool submit "$dmg" --apple-id "$CONNECTCHECK_APPLE_ID" --team-id "$CONNECTCHECK_TEAM_ID" \
        --password "$CONNECTCHECK_APP_PASSWORD" --wait
fi
xcrun stapler staple "$dmg"
spctl --assess --type open --context context:primary-signature --verbose=2 "$dmg"
echo "Signed and notarised: $dmg"
