"""invtrack: event-sourced inventory state tracker."""
