// Command htpasswd checks the endpoint credentials ovaboot applied the way
// contour-authserver's htpasswd backend reads them, with the library that
// backend matches passwords with (github.com/tg123/go-htpasswd).
//
// contour-authserver itself cannot be built here (the Go module proxy refuses
// github.com/projectcontour/contour-authserver), so its selection rules are
// restated below from its source, cited where each is used:
//   - pkg/cli/htpasswd.go: the flags --watch-namespaces (a string slice: the
//     namespaces the Secret cache covers; none means all), --selector (parsed
//     with k8s.io/apimachinery/pkg/labels.Parse) and --auth-realm (default
//     "default").
//   - pkg/auth/htpasswd.go, Reconcile: of the Secrets the selector lists, only
//     those annotated projectcontour.io/auth-type: basic; with a non-empty
//     projectcontour.io/auth-realm, only the realm's own or "*"; the htpasswd
//     data under the key "auth"; a Secret with any line go-htpasswd cannot
//     parse is skipped whole; the rest are concatenated, each after a newline,
//     and parsed with htpasswd.DefaultSystems, whose last parser, AcceptPlain,
//     takes any line it does not recognise as a plain-text password.
//
// Input: the auth server's Deployment and the list of all Secrets, as the API
// server returns them (JSON files), and the password in a file (never on the
// command line). It prints one line per check and exits 0 when all pass:
//  1. the user and the password match;
//  2. a wrong password does not;
//  3. an unknown user does not;
//  4. the stored hash, given as the password, does not;
//  5. the user's line is a bcrypt hash (read with bcrypt alone and plain text
//     rejected), so no line is taken as a plain-text password.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/tg123/go-htpasswd"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	annotationAuthType  = "projectcontour.io/auth-type"
	annotationAuthRealm = "projectcontour.io/auth-realm"
)

type metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type secret struct {
	Metadata metadata          `json:"metadata"`
	Data     map[string][]byte `json:"data"`
}

type deployment struct {
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name    string   `json:"name"`
					Command []string `json:"command"`
					Args    []string `json:"args"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// serverFlags is what the auth server is told on its command line.
type serverFlags struct {
	namespaces []string
	selector   labels.Selector
	realm      string
}

func main() {
	deploymentPath := flag.String("deployment", "", "the auth server's Deployment (JSON)")
	secretsPath := flag.String("secrets", "", "every Secret, as GET /api/v1/secrets returns them (JSON)")
	user := flag.String("user", "", "the endpoint user name")
	passwordPath := flag.String("password-file", "", "a file holding the endpoint password (no newline)")
	flag.Parse()
	if *deploymentPath == "" || *secretsPath == "" || *user == "" || *passwordPath == "" {
		fmt.Fprintln(os.Stderr, "usage: htpasswd -deployment D.json -secrets S.json -user U -password-file P")
		os.Exit(2)
	}
	if err := run(*deploymentPath, *secretsPath, *user, *passwordPath); err != nil {
		fmt.Fprintln(os.Stderr, "htpasswd:", err)
		os.Exit(1)
	}
}

func run(deploymentPath, secretsPath, user, passwordPath string) error {
	var d deployment
	if err := readJSON(deploymentPath, &d); err != nil {
		return err
	}
	flags, err := authServerFlags(&d)
	if err != nil {
		return err
	}
	var list struct {
		Items []secret `json:"items"`
	}
	if err := readJSON(secretsPath, &list); err != nil {
		return err
	}
	password, err := os.ReadFile(passwordPath)
	if err != nil {
		return err
	}
	data, selected := selectSecrets(list.Items, flags)
	if len(selected) == 0 {
		return errors.New("the auth server would select no Secret")
	}
	fmt.Printf("selected: %s (namespaces %v, selector %q, realm %q)\n",
		strings.Join(selected, ", "), flags.namespaces, flags.selector.String(), flags.realm)
	file, err := htpasswd.NewFromReader(bytes.NewReader(data), htpasswd.DefaultSystems,
		func(err error) { panic(fmt.Sprintf("a selected Secret has a bad line: %s", err)) })
	if err != nil {
		return err
	}
	hash, err := storedHash(data, user)
	if err != nil {
		return err
	}
	pw := string(password)
	checks := []struct {
		what string
		ok   bool
	}{
		{"the user and the password match", file.Match(user, pw)},
		{"a wrong password does not match", !file.Match(user, pw+"x") && !file.Match(user, "x"+pw)},
		{"an unknown user does not match", !file.Match(user+"-unknown", pw)},
		{"the stored hash given as the password does not match", !file.Match(user, hash)},
		{"the user's line is a bcrypt hash, not a plain-text password", isBcryptOnly(user, hash, pw)},
	}
	failed := 0
	for _, c := range checks {
		verdict := "ok"
		if !c.ok {
			verdict = "FAILED"
			failed++
		}
		fmt.Printf("%s: %s\n", verdict, c.what)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(checks))
	}
	return nil
}

func readJSON(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// authServerFlags reads the flags of the Deployment's container that runs
// the htpasswd subcommand, with the defaults of pkg/cli/htpasswd.go.
func authServerFlags(d *deployment) (serverFlags, error) {
	for _, c := range d.Spec.Template.Spec.Containers {
		words := append(slices.Clone(c.Command), c.Args...)
		if !slices.Contains(words, "htpasswd") {
			continue
		}
		flags := serverFlags{realm: "default", selector: labels.Everything()}
		for i := 0; i < len(words); i++ {
			name, value, inline := strings.Cut(strings.TrimLeft(words[i], "-"), "=")
			if !strings.HasPrefix(words[i], "--") {
				continue
			}
			if !inline && i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") {
				value = words[i+1]
				i++
			}
			switch name {
			case "watch-namespaces":
				// A pflag string slice: comma-separated, and repeatable.
				flags.namespaces = append(flags.namespaces, strings.Split(value, ",")...)
			case "selector":
				selector, err := labels.Parse(value)
				if err != nil {
					return flags, fmt.Errorf("container %s: --selector %q: %w", c.Name, value, err)
				}
				flags.selector = selector
			case "auth-realm":
				flags.realm = value
			}
		}
		return flags, nil
	}
	return serverFlags{}, errors.New("the Deployment has no container running htpasswd")
}

// selectSecrets is pkg/auth/htpasswd.go's Reconcile: the htpasswd data the
// auth server would load, and the Secrets it came from.
func selectSecrets(items []secret, flags serverFlags) ([]byte, []string) {
	var data bytes.Buffer
	var selected []string
	for _, s := range items {
		m := s.Metadata
		if len(flags.namespaces) > 0 && !slices.Contains(flags.namespaces, m.Namespace) {
			continue
		}
		if !flags.selector.Matches(labels.Set(m.Labels)) {
			continue
		}
		if m.Annotations[annotationAuthType] != "basic" {
			continue
		}
		if realm := m.Annotations[annotationAuthRealm]; realm != "" && realm != flags.realm && realm != "*" {
			continue
		}
		auth, ok := s.Data["auth"]
		if !ok {
			continue
		}
		bad := false
		_, err := htpasswd.NewFromReader(bytes.NewReader(auth), htpasswd.DefaultSystems,
			func(error) { bad = true })
		if err != nil || bad {
			continue
		}
		data.WriteByte('\n')
		data.Write(auth)
		selected = append(selected, m.Namespace+"/"+m.Name)
	}
	return data.Bytes(), selected
}

// storedHash is what follows "user:" on the user's line.
func storedHash(data []byte, user string) (string, error) {
	for line := range strings.SplitSeq(string(data), "\n") {
		if name, hash, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name == user {
			return hash, nil
		}
	}
	return "", fmt.Errorf("no line for the user %q", user)
}

// isBcryptOnly reads the user's line with bcrypt alone, plain text rejected:
// a line the auth server would take as plain text fails here.
func isBcryptOnly(user, hash, password string) bool {
	line := user + ":" + hash + "\n"
	bad := false
	file, err := htpasswd.NewFromReader(strings.NewReader(line),
		[]htpasswd.PasswdParser{htpasswd.AcceptBcrypt, htpasswd.RejectPlain}, func(error) { bad = true })
	return err == nil && !bad && file.Match(user, password)
}
