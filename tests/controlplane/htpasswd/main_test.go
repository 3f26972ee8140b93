package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	user     = "admin"
	password = "correct-Horse-7"
)

func hashed(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(hash)
}

func authSecret(namespace, realm, line string, labels map[string]string) secret {
	annotations := map[string]string{annotationAuthType: "basic"}
	if realm != "" {
		annotations[annotationAuthRealm] = realm
	}
	return secret{
		Metadata: metadata{Name: "htpasswd", Namespace: namespace, Labels: labels, Annotations: annotations},
		Data:     map[string][]byte{"auth": []byte(line)},
	}
}

func flagsOf(t *testing.T, args ...string) serverFlags {
	t.Helper()
	var d deployment
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, struct {
		Name    string   `json:"name"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
	}{Name: "auth", Command: []string{"contour-authserver"}, Args: append([]string{"htpasswd"}, args...)})
	flags, err := authServerFlags(&d)
	if err != nil {
		t.Fatal(err)
	}
	return flags
}

func TestFlagsAreReadInBothFormsWithTheServersDefaults(t *testing.T) {
	flags := flagsOf(t, "--watch-namespaces=a,b", "--watch-namespaces", "c", "--selector", "app=auth")
	if strings.Join(flags.namespaces, " ") != "a b c" || flags.realm != "default" ||
		!flags.selector.Matches(labels.Set{"app": "auth"}) || flags.selector.Matches(labels.Set{}) {
		t.Fatalf("%+v", flags)
	}
}

func TestSelectionFollowsNamespaceLabelAnnotationAndRealm(t *testing.T) {
	line := user + ":" + hashed(t) + "\n"
	want := map[string]string{"app": "auth"}
	flags := flagsOf(t, "--watch-namespaces=auth", "--selector=app=auth", "--auth-realm=appliance")
	noType := authSecret("auth", "", line, want)
	delete(noType.Metadata.Annotations, annotationAuthType)
	noKey := authSecret("auth", "", "", want)
	noKey.Data = map[string][]byte{"htpasswd": []byte(line)}
	for name, s := range map[string]secret{
		"another namespace": authSecret("other", "", line, want),
		"another label":     authSecret("auth", "", line, map[string]string{"app": "other"}),
		"no auth-type":      noType,
		"another realm":     authSecret("auth", "elsewhere", line, want),
		"no auth key":       noKey,
		"a bad line in it":  authSecret("auth", "", line+"no colon here\n", want),
	} {
		if _, selected := selectSecrets([]secret{s}, flags); len(selected) != 0 {
			t.Errorf("%s: selected %v", name, selected)
		}
	}
	for _, realm := range []string{"", "appliance", "*"} {
		if _, selected := selectSecrets([]secret{authSecret("auth", realm, line, want)}, flags); len(selected) != 1 {
			t.Errorf("realm %q: not selected", realm)
		}
	}
}

func TestAPlainTextLineMatchesButIsNotBcrypt(t *testing.T) {
	// What the auth server would do with a password stored as it is.
	if isBcryptOnly(user, password, password) {
		t.Fatal("a plain-text line passed as bcrypt")
	}
	if !isBcryptOnly(user, hashed(t), password) {
		t.Fatal("a bcrypt line did not pass")
	}
	hash, err := storedHash([]byte("\nother:x\n"+user+":"+"$2b$10$abc\n"), user)
	if err != nil || hash != "$2b$10$abc" {
		t.Fatalf("%q %v", hash, err)
	}
}

func TestRunPassesOnABcryptLineAndFailsOnAPlainOne(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	deploymentJSON := write("deployment.json", `{"spec":{"template":{"spec":{"containers":[
		{"name":"auth","args":["htpasswd","--watch-namespaces=auth","--selector=app=auth"]}]}}}}`)
	passwordFile := write("password", password)
	secretsWith := func(line string) string {
		list := map[string]any{"items": []secret{authSecret("auth", "", line, map[string]string{"app": "auth"})}}
		raw, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		return write("secrets.json", string(raw))
	}
	if err := run(deploymentJSON, secretsWith(user+":"+hashed(t)+"\n"), user, passwordFile); err != nil {
		t.Fatalf("a bcrypt line: %v", err)
	}
	if err := run(deploymentJSON, secretsWith(user+":"+password+"\n"), user, passwordFile); err == nil {
		t.Fatal("a plain-text line passed")
	}
	if err := run(deploymentJSON, secretsWith("someone:"+hashed(t)+"\n"), user, passwordFile); err == nil {
		t.Fatal("no line for the user passed")
	}
}
