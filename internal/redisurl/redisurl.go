// Package redisurl reads the Redis URL that the limits and the Responses
// store share, keeping its credentials out of every message.
package redisurl

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"

	"aigateway/internal/redact"
)

// Parse reads rawURL (redis://[user:password@]host:port/db, rediss:// for
// TLS) into client options, and returns a redactor for the URL's user and
// password, for the errors the client reports later. The error of a
// malformed URL shows neither, nor the URL itself.
func Parse(rawURL string) (*redis.Options, *redact.Redactor, error) {
	var secrets []string
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		p, _ := u.User.Password()
		secrets = append(secrets, u.User.Username(), p)
	}
	redactor := redact.New(secrets...)
	ro, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Error quotes the whole URL; keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, redactor, fmt.Errorf("%s", redactor.String(err.Error()))
	}
	// CLIENT SETINFO fails on older servers and proxies.
	ro.DisableIdentity = true
	return ro, redactor, nil
}
