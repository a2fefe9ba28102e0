"""The dock widget's panels, one file each. Each is handed the controller, builds its controls,
calls the controller's actions and follows its signals; no panel calls another."""
