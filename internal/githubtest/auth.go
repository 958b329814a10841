package githubtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
)

// jwtError is why an app JWT was refused (GitHub's 401 messages).
type jwtError string

func (e jwtError) Error() string { return string(e) }

// verifyJWT checks the request's "Authorization: Bearer <JWT>" as GitHub
// checks an app's JWT: RS256 signed with the app's key, iss the app id,
// exp in the future but at most 10 minutes away, iat not in the future.
func (s *Server) verifyJWT(r *http.Request) error {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.Count(raw, ".") != 2 {
		return jwtError("A JSON web token could not be decoded")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), claims, func(*jwt.Token) (any, error) {
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		var ve *jwt.ValidationError
		if asValidation(err, &ve) && ve.Errors&jwt.ValidationErrorExpired != 0 {
			return jwtError("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
		}
		if asValidation(err, &ve) && ve.Errors&jwt.ValidationErrorIssuedAt != 0 {
			return jwtError("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
		}
		return jwtError("A JSON web token could not be decoded")
	}
	var iss string
	switch v := claims["iss"].(type) {
	case string:
		iss = v
	case float64:
		iss = strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		iss = v.String()
	}
	if iss != strconv.FormatInt(s.appID, 10) {
		return jwtError("'Issuer' claim ('iss') must be an Integer")
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return jwtError("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if time.Unix(int64(exp), 0).After(time.Now().Add(10*time.Minute + 30*time.Second)) {
		return jwtError("'Expiration time' claim ('exp') is too far in the future")
	}
	if _, ok := claims["iat"].(float64); !ok {
		return jwtError("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	return nil
}

func asValidation(err error, target **jwt.ValidationError) bool {
	ve, ok := err.(*jwt.ValidationError)
	if ok {
		*target = ve
	}
	return ok
}

// tokenFrom finds the installation token of "Authorization: token X" or
// "Bearer X". It answers the 401 itself and returns nil when there is none
// or it is not valid.
func (s *Server) tokenFrom(w http.ResponseWriter, r *http.Request) *token {
	h := r.Header.Get("Authorization")
	if h == "" {
		writeJSON(w, http.StatusUnauthorized, errBody("Requires authentication", "https://docs.github.com/rest"))
		return nil
	}
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	if strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "Bearer") {
		s.mu.Lock()
		tok := s.tokens[value]
		valid := tok != nil && time.Now().Before(tok.expires)
		s.mu.Unlock()
		if valid {
			return tok
		}
	}
	writeJSON(w, http.StatusUnauthorized, badCredentials)
	return nil
}

// covers reports whether tok may see repository r.
func (tok *token) covers(r *repo) bool {
	if r.installationID != tok.installationID {
		return false
	}
	return tok.repos == nil || tok.repos[r.key()]
}

var permRank = map[string]int{"none": 0, "": 0, "read": 1, "write": 2, "admin": 3}

// allows reports whether the token's permission on scope is at least level.
func (tok *token) allows(scope, level string) bool {
	return permRank[tok.perms[scope]] >= permRank[level]
}

// issueToken creates a token for inst; repos (keys) and perms narrow it.
// The caller holds s.mu.
func (s *Server) issueToken(inst *installation, repos map[string]bool, perms map[string]string) *token {
	if perms == nil {
		perms = copyMap(inst.perms)
	}
	tok := &token{
		value:          "ghs_" + randomAlnum(36),
		installationID: inst.id,
		expires:        now().Add(time.Hour),
		repos:          repos,
		perms:          perms,
	}
	s.tokens[tok.value] = tok
	return tok
}

func randomAlnum(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			panic(err)
		}
		b[i] = chars[k.Int64()]
	}
	return string(b)
}

// serveApp answers /app, /app/installations[/{id}[/access_tokens]] (app JWT).
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, segs []string, body []byte) {
	if err := s.verifyJWT(r); err != nil {
		writeJSON(w, http.StatusUnauthorized, errBody(err.Error(), "https://docs.github.com/rest"))
		return
	}
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.appJSON())
	case len(segs) == 2 && segs[1] == "installations" && r.Method == http.MethodGet:
		s.mu.Lock()
		var list []*github.Installation
		for _, inst := range s.installations {
			list = append(list, s.installationJSON(inst))
		}
		s.mu.Unlock()
		sortInstallations(list)
		lo, hi := paginate(w, r, len(list))
		writeJSON(w, http.StatusOK, list[lo:hi])
	case len(segs) == 3 && segs[1] == "installations" && r.Method == http.MethodGet:
		inst := s.installationByID(segs[2])
		if inst == nil {
			writeJSON(w, http.StatusNotFound, notFoundBody)
			return
		}
		s.mu.Lock()
		j := s.installationJSON(inst)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, j)
	case len(segs) == 4 && segs[1] == "installations" && segs[3] == "access_tokens" && r.Method == http.MethodPost:
		s.createAccessToken(w, r, segs[2], body)
	default:
		writeJSON(w, http.StatusNotFound, notFoundBody)
	}
}

func (s *Server) installationByID(id string) *installation {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.installations[n]
}

// createAccessToken answers POST /app/installations/{id}/access_tokens.
func (s *Server) createAccessToken(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	inst := s.installationByID(id)
	if inst == nil {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if len(strings.TrimSpace(string(body))) > 0 && string(body) != "null\n" && string(body) != "null" {
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("Problems parsing JSON", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"))
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var repos map[string]bool
	if len(req.Repositories) > 0 || len(req.RepositoryIDs) > 0 {
		repos = map[string]bool{}
		for _, name := range req.Repositories {
			found := false
			for _, rp := range s.repos {
				if rp.installationID == inst.id && strings.EqualFold(rp.name, name) {
					repos[rp.key()] = true
					found = true
				}
			}
			if !found {
				writeJSON(w, http.StatusUnprocessableEntity, errBody("There is at least one repository that does not exist or is not accessible to the parent installation.", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"))
				return
			}
		}
		for _, rid := range req.RepositoryIDs {
			found := false
			for _, rp := range s.repos {
				if rp.installationID == inst.id && rp.id == rid {
					repos[rp.key()] = true
					found = true
				}
			}
			if !found {
				writeJSON(w, http.StatusUnprocessableEntity, errBody("There is at least one repository that does not exist or is not accessible to the parent installation.", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"))
				return
			}
		}
	}
	var perms map[string]string
	if len(req.Permissions) > 0 {
		perms = map[string]string{}
		for scope, level := range req.Permissions {
			if permRank[inst.perms[scope]] < permRank[level] || permRank[level] == 0 {
				writeJSON(w, http.StatusUnprocessableEntity, errBody("The permissions requested are not granted to this installation.", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"))
				return
			}
			perms[scope] = level
		}
		if _, ok := perms["metadata"]; !ok && inst.perms["metadata"] != "" {
			perms["metadata"] = "read"
		}
	}
	tok := s.issueToken(inst, repos, perms)
	exp := github.Timestamp{Time: tok.expires}
	out := struct {
		*github.InstallationToken
		RepositorySelection string `json:"repository_selection"`
	}{
		InstallationToken: &github.InstallationToken{
			Token:       github.String(tok.value),
			ExpiresAt:   &exp,
			Permissions: toInstallationPermissions(tok.perms),
		},
		RepositorySelection: "all",
	}
	if repos != nil {
		out.RepositorySelection = "selected"
		for _, rp := range s.sortedRepos() {
			if repos[rp.key()] {
				out.Repositories = append(out.Repositories, s.repoJSON(rp))
			}
		}
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) sortedRepos() []*repo {
	var list []*repo
	for _, rp := range s.repos {
		list = append(list, rp)
	}
	sortRepos(list)
	return list
}

func toInstallationPermissions(perms map[string]string) *github.InstallationPermissions {
	var p github.InstallationPermissions
	b, _ := json.Marshal(perms)
	_ = json.Unmarshal(b, &p)
	return &p
}

// serveGit serves /git/{owner}/{name}.git/... to holders of a token
// covering the repository (basic auth, the token as password).
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/git/")
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 || !strings.HasSuffix(parts[1], ".git") {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	rp := s.repos[repoKey(parts[0], strings.TrimSuffix(parts[1], ".git"))]
	s.mu.Unlock()

	_, password, hasAuth := r.BasicAuth()
	var tok *token
	if hasAuth {
		s.mu.Lock()
		tok = s.tokens[password]
		if tok != nil && !time.Now().Before(tok.expires) {
			tok = nil
		}
		s.mu.Unlock()
	}
	if tok == nil || rp == nil || !tok.covers(rp) {
		if tok != nil {
			// A valid token that cannot see the repository: GitHub hides it.
			http.Error(w, "Repository not found.", http.StatusNotFound)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	push := strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
	if !tok.allows("contents", "read") || (push && !tok.allows("contents", "write")) {
		http.Error(w, fmt.Sprintf("Permission to %s denied to %s.", rp.fullName(), BotLogin), http.StatusForbidden)
		return
	}
	// Hand git http-backend the repository's real spelling.
	r2 := r.Clone(r.Context())
	tail := ""
	if len(parts) == 3 {
		tail = "/" + parts[2]
	}
	r2.URL.Path = "/" + rp.owner + "/" + rp.name + ".git" + tail
	r2.URL.RawPath = ""
	r2.Body = r.Body
	s.git.ServeHTTP(w, r2)
}
