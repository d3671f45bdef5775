package mesosbackend

import (
	"context"
	"errors"
	"testing"
)

func TestStartConfigErrors(t *testing.T) {
	good := Config{Master: []string{"127.0.0.1:1"}, Settings: DefaultSettings(), Command: Command{Value: "x"}}
	for name, mutate := range map[string]func(*Config){
		"no master":   func(c *Config) { c.Master = nil },
		"no command":  func(c *Config) { c.Command = Command{} },
		"no settings": func(c *Config) { c.Settings = Settings{} },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
