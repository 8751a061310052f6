#!/bin/sh
# connectcheck for this user, without administrator rights. Run it from the unpacked archive:
#
#   ./install.sh                          copy the program to ~/.local/opt/connectcheck, add it to the
#                                         applications menu, and put `connectcheck` in ~/.local/bin
#                                         (first it checks the system libraries the window needs, and
#                                         names the packages to install if some are missing)
#   ./install.sh --uninstall [--purge]    close the app and remove all that again (and its start at
#                                         login); asks before deleting your history and settings
#                                         (--purge: delete them without asking; no terminal: keep them)
#   ./install.sh --folders                print where connectcheck keeps settings, history, cache, logs
#
# Nothing is needed to just try it: ./connectcheck in the unpacked folder starts the tray app, and
# ./connectcheck check runs a check in the terminal.
set -eu

app=connectcheck
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
cache_home=${XDG_CACHE_HOME:-$HOME/.cache}
state_home=${XDG_STATE_HOME:-$HOME/.local/state}
dest=$HOME/.local/opt/$app
bin=$HOME/.local/bin
menu_entry=$data_home/applications/$app.desktop
icon_theme=$data_home/icons/hicolor
login_entry=$config_home/autostart/$app.desktop  # written by the app's "start at login" setting
QUIT_WAIT_S=15

say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# The folders the app keeps the user's files in (platformdirs' XDG folders, as connectcheck/paths.py).
user_folders() {
    printf '%s\n' "$config_home/$app" "$data_home/$app" "$cache_home/$app" "$state_home/$app"
}

# True while a program of the installed copy runs (its /proc/PID/exe points into it).
running() {
    for exe in /proc/[0-9]*/exe; do
        case $(readlink "$exe" 2>/dev/null || true) in
            "$dest"/*) return 0 ;;
        esac
    done
    return 1
}

# Ask the installed copy to quit, as a second start with --quit does, and wait until it has.
quit_running() {
    running || return 0
    say "Closing the running $app..."
    "$dest/$app" --quit >/dev/null 2>&1 || true
    waited=0
    while running; do
        [ "$waited" -lt "$QUIT_WAIT_S" ] || fail "$app is still running: quit it from its tray icon, then try again"
        sleep 1
        waited=$((waited + 1))
    done
}

# The Exec= line of the menu entry: the program's full path (quoted when it holds a space).
exec_line() {
    case $dest in
        *[\"\`\$\\%]*) fail "the path $dest holds characters a menu entry cannot hold" ;;
        *" "*) printf 'Exec="%s/%s"\n' "$dest" "$app" ;;
        *) printf 'Exec=%s/%s\n' "$dest" "$app" ;;
    esac
}

refresh_menus() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data_home/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icon_theme" || true
}

# The system libraries Qt's window plugins need and this computer lacks: ldd on the plugins of the
# unpacked build (its own folder first, as the program finds it), packages from the app's list
# (connectcheck/resources/linux/libraries.tsv: soname, Debian package, Fedora package, group).
check_libraries() {
    command -v ldd >/dev/null 2>&1 || return 0
    internal=$here/_internal
    [ -d "$internal" ] || internal=$here
    plugins=$(find "$here" \( -name 'libqxcb.so' -o -name 'libQt6XcbQpa.so*' -o -name 'libQt6Gui.so*' \) -type f 2>/dev/null)
    [ -n "$plugins" ] || return 0
    lacking=$(for plugin in $plugins; do LD_LIBRARY_PATH=$internal ldd "$plugin" 2>/dev/null; done \
        | awk '$2 == "=>" && $3 == "not" {print $1}' | sort -u)
    [ -n "$lacking" ] || return 0
    list=$(find "$here" -path '*/resources/linux/libraries.tsv' -type f 2>/dev/null | head -n 1)
    debian=$(printf '%s\n' "$lacking" | awk -F '\t' 'NR == FNR { if ($0 !~ /^#/) { d[$1] = $2 } next }
        { print (($1 in d) ? d[$1] : "") }' "${list:-/dev/null}" - | awk 'NF && !seen[$0]++' | tr '\n' ' ')
    fedora=$(printf '%s\n' "$lacking" | awk -F '\t' 'NR == FNR { if ($0 !~ /^#/) { f[$1] = $3 } next }
        { print (($1 in f) ? f[$1] : "") }' "${list:-/dev/null}" - | awk 'NF && !seen[$0]++' | tr '\n' ' ')
    say "$app needs system libraries that this computer does not have:"
    say "$lacking" | sed 's/^/  /'
    if [ -n "$debian" ]; then
        say "Install them, then run ./install.sh again:"
        say "  on Debian or Ubuntu:  sudo apt install ${debian% }"
        say "  on Fedora:            sudo dnf install ${fedora% }"
    else
        say "Install the packages that bring them, then run ./install.sh again."
    fi
    say "(The command line works without them: ./$app check)"
    exit 1
}

install_app() {
    [ -x "$here/$app" ] || fail "run this from the unpacked $app archive (no $here/$app)"
    check_libraries
    line=$(exec_line)
    if [ "$here" != "$dest" ]; then
        quit_running
        rm -rf "$dest.new"
        mkdir -p "$dest.new"
        cp -a "$here/." "$dest.new/"
        rm -rf "$dest"
        mv "$dest.new" "$dest"
    fi
    mkdir -p "$bin" "$(dirname "$menu_entry")" "$icon_theme"
    ln -sf "$dest/$app" "$bin/$app"
    cp -a "$dest/icons/hicolor/." "$icon_theme/"
    sed "s|^Exec=.*|$line|" "$dest/$app.desktop" > "$menu_entry"
    refresh_menus
    say "$app is installed in $dest."
    say "Start it from the applications menu, or run: $bin/$app"
    case ":$PATH:" in *":$bin:"*) ;; *) say "($bin is not on your PATH: add it to run '$app' by name.)" ;; esac
}

uninstall_app() {
    purge=$1
    quit_running
    rm -rf "$dest" "$dest.new"
    rm -f "$menu_entry" "$login_entry"
    if [ -L "$bin/$app" ]; then rm -f "$bin/$app"; fi
    find "$icon_theme" -name "$app.png" -o -name "$app.svg" 2>/dev/null | while read -r icon; do rm -f "$icon"; done
    refresh_menus
    say "$app is removed."
    kept=$(user_folders | while read -r folder; do if [ -d "$folder" ]; then say "$folder"; fi; done)
    [ -n "$kept" ] || return 0
    if [ "$purge" = no ] && [ -t 0 ]; then
        say "Your $app history and settings are in:"
        say "$kept"
        printf 'Delete them too? Reports you saved elsewhere are not touched. [y/N] '
        read -r answer || answer=
        case $answer in [yY]*) purge=yes ;; esac
    fi
    if [ "$purge" = yes ]; then
        say "$kept" | while read -r folder; do rm -rf "$folder"; done
        say "Your history and settings are deleted."
    else
        say "Your history and settings are kept (install again to use them)."
    fi
}

case "${1:-}" in
    "") install_app ;;
    --uninstall)
        case "${2:-}" in
            "") uninstall_app no ;;
            --purge) uninstall_app yes ;;
            *) fail "unknown option ${2}" ;;
        esac ;;
    --folders) user_folders ;;
    -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0" ;;
    *) fail "unknown option $1 (see --help)" ;;
esac
