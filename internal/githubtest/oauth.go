package githubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The app's OAuth side, as GitHub documents it for a GitHub App's "user
// access token" (the web application flow):
//
//	GET  /login/oauth/authorize?client_id&redirect_uri&state   (web: redirects back with code and state)
//	POST /login/oauth/access_token  client_id, client_secret, code[, redirect_uri]
//	     → {"access_token": "ghu_…", "token_type": "bearer", "scope": ""} (JSON with Accept: application/json,
//	       else form-encoded); a failure is also 200, with error and error_description
//	GET  /user, GET /user/emails   (REST, with the user's token)
//
// There is no one to click "Authorize" in a test: the user who is signed
// in to the stand-in (SignInAs) authorizes at once. Nobody signed in: the
// authorize page answers 401 "Sign in to GitHub". A code works once, for
// ten minutes; redirect_uri must be the registered callback URL when one is
// (SetOAuthCallbackURL).

// OAuthUser is a GitHub user the stand-in can sign in as.
type OAuthUser struct {
	Login  string
	Name   string
	Emails []OAuthEmail // the first primary one is the user's primary email
}

// OAuthEmail is one of a user's email addresses, as GET /user/emails lists them.
type OAuthEmail struct {
	Email    string
	Primary  bool
	Verified bool
}

type oauthCode struct {
	login, redirectURI string
	expires            time.Time
}

type oauthState struct {
	clientID, clientSecret string
	callback               string
	users                  map[string]OAuthUser // by lower-case login
	signedIn               string
	codes                  map[string]oauthCode
	tokens                 map[string]string // user token → login
}

func newOAuthState() oauthState {
	return oauthState{clientID: "Iv1." + randomHex(8), clientSecret: randomHex(20),
		users: map[string]OAuthUser{}, codes: map[string]oauthCode{}, tokens: map[string]string{}}
}

// OAuthClientID is the app's client ID (github.oauth.client_id).
func (s *Server) OAuthClientID() string { return s.oauth.clientID }

// OAuthClientSecret is the app's client secret (github.oauth.client_secret).
func (s *Server) OAuthClientSecret() string { return s.oauth.clientSecret }

// SetOAuthCallbackURL registers the app's callback URL (app.yml's
// callback_urls): authorize and access_token then refuse any other
// redirect_uri.
func (s *Server) SetOAuthCallbackURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.callback = u
}

// AddOAuthUser registers a user the stand-in can sign in as.
func (s *Server) AddOAuthUser(u OAuthUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.users[strings.ToLower(u.Login)] = u
	s.userID(u.Login)
}

// RenameUser renames the GitHub account old to new, as a user can on
// GitHub: it keeps its ID and its access to repositories, the old login
// becomes free, and an account
// registered with it later (AddOAuthUser) gets an ID of its own.
func (s *Server) RenameUser(old, new string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(old)
	id, ok := s.userIDs[k]
	if !ok {
		panic(fmt.Sprintf("githubtest: RenameUser of unknown user %q", old))
	}
	delete(s.userIDs, k)
	s.userIDs[strings.ToLower(new)] = id
	for _, rp := range s.repos { // access goes with the account
		if p, ok := rp.perms[k]; ok {
			delete(rp.perms, k)
			rp.perms[strings.ToLower(new)] = p
		}
	}
	if u, ok := s.oauth.users[k]; ok {
		delete(s.oauth.users, k)
		u.Login = new
		s.oauth.users[strings.ToLower(new)] = u
	}
	for tok, login := range s.oauth.tokens {
		if strings.EqualFold(login, old) {
			s.oauth.tokens[tok] = new
		}
	}
	if s.oauth.signedIn == k {
		s.oauth.signedIn = strings.ToLower(new)
	}
}

// loginSpelling is login as the account spells it (an OAuth user's own
// spelling), for answers; the caller holds s.mu.
func (s *Server) loginSpelling(login string) string {
	if u, ok := s.oauth.users[strings.ToLower(login)]; ok {
		return u.Login
	}
	return login
}

// SignInAs makes login the user signed in to the stand-in's web pages:
// the one who authorizes the app ("" signs out).
func (s *Server) SignInAs(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.signedIn = strings.ToLower(login)
}

// serveOAuth answers /login/oauth/authorize and /login/oauth/access_token.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/login/oauth/authorize" && r.Method == http.MethodGet:
		s.authorize(w, r)
	case r.URL.Path == "/login/oauth/access_token" && r.Method == http.MethodPost:
		s.accessToken(w, r)
	default:
		http.Error(w, "Not Found", http.StatusNotFound)
	}
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Get("client_id") != s.oauth.clientID {
		http.Error(w, "Not Found", http.StatusNotFound) // GitHub's page for an unknown client_id is a 404
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		redirect = s.oauth.callback
	}
	back, err := url.Parse(redirect)
	if err != nil || redirect == "" {
		http.Error(w, "The redirect_uri is missing or invalid.", http.StatusBadRequest)
		return
	}
	answer := back.Query()
	answer.Set("state", q.Get("state"))
	if s.oauth.callback != "" && redirect != s.oauth.callback {
		// GitHub sends the user to the registered callback, saying why.
		cb, _ := url.Parse(s.oauth.callback)
		answer.Set("error", "redirect_uri_mismatch")
		answer.Set("error_description", "The redirect_uri MUST match the registered callback URL for this application.")
		cb.RawQuery = answer.Encode()
		http.Redirect(w, r, cb.String(), http.StatusFound)
		return
	}
	user, ok := s.oauth.users[s.oauth.signedIn]
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "<!doctype html><title>Sign in to GitHub</title><h1>Sign in to GitHub</h1>")
		return
	}
	code := randomHex(10)
	s.oauth.codes[code] = oauthCode{login: user.Login, redirectURI: q.Get("redirect_uri"), expires: time.Now().Add(10 * time.Minute)}
	answer.Set("code", code)
	back.RawQuery = answer.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.Form
	// The client may also authenticate with basic auth (as golang.org/x/oauth2 can).
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	answer := func(v map[string]string) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			anyV := map[string]any{}
			for k, x := range v {
				anyV[k] = x
			}
			writeJSON(w, http.StatusOK, anyV)
			return
		}
		out := url.Values{}
		for k, x := range v {
			out.Set(k, x)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		fmt.Fprint(w, out.Encode())
	}
	fail := func(code, desc string) {
		answer(map[string]string{"error": code, "error_description": desc,
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + strings.ReplaceAll(code, "_", "-")})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.oauth.clientID || secret != s.oauth.clientSecret {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	c, ok := s.oauth.codes[f.Get("code")]
	delete(s.oauth.codes, f.Get("code")) // a code is good once
	if !ok || time.Now().After(c.expires) {
		fail("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	if ru := f.Get("redirect_uri"); ru != "" && c.redirectURI != "" && ru != c.redirectURI {
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	tok := "ghu_" + randomHex(18)
	s.oauth.tokens[tok] = c.login
	answer(map[string]string{"access_token": tok, "token_type": "bearer", "scope": ""})
}

// userFrom finds the user of a user access token ("token X" or "Bearer
// X"), answering 401 itself when there is none; an installation token
// gets 403, as GitHub answers it on /user.
func (s *Server) userFrom(w http.ResponseWriter, r *http.Request) (OAuthUser, bool) {
	scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	value = strings.TrimSpace(value)
	if scheme == "" {
		writeJSON(w, http.StatusUnauthorized, errBody("Requires authentication", "https://docs.github.com/rest/users/users#get-the-authenticated-user"))
		return OAuthUser{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if login, ok := s.oauth.tokens[value]; ok && (strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "Bearer")) {
		return s.oauth.users[strings.ToLower(login)], true
	}
	if _, ok := s.tokens[value]; ok {
		writeJSON(w, http.StatusForbidden, notAccessible)
		return OAuthUser{}, false
	}
	writeJSON(w, http.StatusUnauthorized, badCredentials)
	return OAuthUser{}, false
}

// serveUser answers GET /user and GET /user/emails.
func (s *Server) serveUser(w http.ResponseWriter, r *http.Request, segs []string) {
	if r.Method != http.MethodGet || len(segs) > 2 || (len(segs) == 2 && segs[1] != "emails") {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	u, ok := s.userFrom(w, r)
	if !ok {
		return
	}
	if len(segs) == 2 {
		list := []map[string]any{}
		for _, e := range u.Emails {
			list = append(list, map[string]any{"email": e.Email, "primary": e.Primary, "verified": e.Verified, "visibility": nil})
		}
		lo, hi := paginate(w, r, len(list))
		writeJSON(w, http.StatusOK, list[lo:hi])
		return
	}
	s.mu.Lock()
	id := s.userID(u.Login)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"login": u.Login, "id": id, "name": u.Name, "email": nil, "type": "User", "site_admin": false,
		"html_url": s.URL + "/" + u.Login, "url": s.APIURL() + "users/" + u.Login,
	})
}
