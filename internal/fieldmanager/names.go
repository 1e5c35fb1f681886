package fieldmanager

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
)

// DefaultManager returns the field manager upstream records for a request
// that names none: the User-Agent up to its first '/', without
// unprintable characters, cut at 128 bytes (handlers'
// prefixFromUserAgent). An empty result is recorded as "unknown" by
// Update.
func DefaultManager(userAgent string) string {
	prefix, _, _ := strings.Cut(userAgent, "/")
	var b strings.Builder
	for _, r := range prefix {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > validation.FieldManagerMaxLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
