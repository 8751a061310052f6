; Inno Setup 6 script: installs connectcheck for the current user, without administrator rights.
;
;   python installer\build.py      (builds dist\connectcheck and writes build\installer\defines.iss)
;   iscc installer\windows\connectcheck.iss
;
; gives dist\connectcheck-<version>-setup.exe. What it does:
; * installs into %LOCALAPPDATA%\Programs\connectcheck, with a Start-menu entry;
; * an opt-in task "start when Windows starts" writes the same per-user Run value the app's own
;   setting writes (key, value name and flag come from src\connectcheck\autostart.py through
;   defines.iss, so they cannot drift apart);
; * before installing over an older version and before uninstalling, it asks the running app to
;   quit (connectcheck --quit) and waits until it has;
; * the uninstaller removes the Run value (whoever wrote it), and asks before deleting the user's
;   history and settings (%LOCALAPPDATA%\connectcheck); a silent uninstall keeps them.

#include "..\..\build\installer\defines.iss"
#ifndef AppVersion
  #error Run "python installer\build.py" first: it builds the program and writes build\installer\defines.iss
#endif

[Setup]
; The AppId identifies this program to Windows for upgrades and uninstalling: never change it.
AppId={{C9F8C1CF-32FD-4237-84A8-147C8E029A55}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=..\..\build\installer\icons\connectcheck.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; the app is closed by the code below (it lives in the tray: Windows cannot ask it to close)
CloseApplications=no

[Tasks]
Name: "startatlogin"; Description: "Start {#AppName} when Windows starts (it waits in the tray)"; GroupDescription: "Starting:"; Flags: unchecked

[Files]
Source: "..\..\dist\{#AppName}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Checks the connection before and during online lessons"

[Registry]
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValue}"; ValueData: "{code:AutostartCommand}"; Tasks: startatlogin

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[Code]
const
  QuitWaitMs = 15000;

// The command the app's own "start at login" setting writes (autostart.py: subprocess.list2cmdline
// of the program and the flag), so that the two are the same value.
function AutostartCommand(Param: String): String;
var
  Exe: String;
begin
  Exe := ExpandConstant('{app}\{#AppExe}');
  if (Pos(' ', Exe) > 0) or (Pos(#9, Exe) > 0) then
    Exe := '"' + Exe + '"';
  Result := Exe + ' {#AutostartFlag}';
end;

// A program that is running cannot be opened for writing: when both can be, the app has gone.
function InUse(Path: String): Boolean;
var
  Stream: TFileStream;
begin
  Result := False;
  if not FileExists(Path) then
    Exit;
  try
    Stream := TFileStream.Create(Path, fmOpenReadWrite or fmShareExclusive);
    Stream.Free;
  except
    Result := True;
  end;
end;

function AppRunning(): Boolean;
begin
  Result := InUse(ExpandConstant('{app}\{#AppExe}')) or InUse(ExpandConstant('{app}\{#CliExe}'));
end;

// Ask the running app to quit (a second start of it with the quit flag) and wait until it has.
// True when it is not running (any more).
function CloseRunningApp(): Boolean;
var
  ResultCode, Waited: Integer;
begin
  if AppRunning() then
  begin
    Exec(ExpandConstant('{app}\{#AppExe}'), '{#QuitFlag}', '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
    Waited := 0;
    while AppRunning() and (Waited < QuitWaitMs) do
    begin
      Sleep(250);
      Waited := Waited + 250;
    end;
  end;
  Result := not AppRunning();
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  Result := '';
  if not CloseRunningApp() then
    Result := '{#AppName} is still running. Please quit it (its tray icon: Quit), then run this installer again.';
end;

function InitializeUninstall(): Boolean;
begin
  Result := True;
  while Result and not CloseRunningApp() do
    Result := MsgBox('{#AppName} is still running. Please quit it (its tray icon: Quit), then click OK.',
                     mbError, MB_OKCANCEL) = IDOK;
end;

procedure AskToDeleteUserData();
var
  Folder: String;
begin
  Folder := ExpandConstant('{localappdata}\{#DataFolder}');
  if UninstallSilent() or not DirExists(Folder) then
    Exit;
  if MsgBox('Also delete your {#AppName} history and settings?' + #13#10#13#10 +
            'They are kept in ' + Folder + '. Reports you saved elsewhere are not touched.' + #13#10 +
            'Choose No to keep them for a later installation.',
            mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
    DelTree(Folder, True, True, True);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usUninstall then
    // the Run value goes whether this installer or the app's own setting wrote it
    RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValue}');
  if CurUninstallStep = usPostUninstall then
    AskToDeleteUserData();
end;
