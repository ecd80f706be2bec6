package daemoncli

import "github.com/lwtoken-helper/lwtoken-helper/keystore"

// stores are where a daemon reads the profiles' secrets from and where it caches tokens,
// chosen once at start by chooseStores (run uses them, doctor checks them).
type stores struct {
	secrets keystore.Secrets
	tokens  keystore.TokenCache
}

// chooseStores picks the secret source and the token cache for this environment: the OS
// keyring for both (the desktop).
func chooseStores(env *Env) (stores, error) {
	k := &keystore.Keyring{}
	return stores{secrets: k, tokens: k}, nil
}
