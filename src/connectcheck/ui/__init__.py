"""The tray app (all the Qt of connectcheck): tray icon and menu, status window, check progress,
lesson monitoring, the failed-lesson guide, settings, history and report export.

Start it with :func:`connectcheck.ui.app.run_app`.
"""
