// Package config reads usher's configuration from command-line flags and
// USHER_* environment variables (flags win), with no global state.
package config

import (
	"flag"
	"fmt"
	"strings"
)

// EnvName is the environment variable that backs a flag:
// "database-url" → "USHER_DATABASE_URL".
func EnvName(flagName string) string {
	return "USHER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then fills every flag not given on the
// command line from its USHER_* variable, if set.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, e)
			}
		}
	})
	return err
}

// Strings is a repeatable string flag (--group A --group B).
type Strings []string

func (s *Strings) String() string { return strings.Join(*s, ",") }

// Set adds one value.
func (s *Strings) Set(v string) error {
	*s = append(*s, v)
	return nil
}
