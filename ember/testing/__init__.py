"""Test helpers. ``ember.testing.fake_device`` registers a GPU-like test device ("fake");
``ember.testing.device_check`` replays ops on a device against the CPU."""
