package fieldmanager

import (
	"strings"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
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

// ValidateManager validates the fieldManager parameter of a PATCH as
// upstream does (ValidatePatchOptions): at most 128 bytes, printable, and
// required for an apply patch. The error is upstream's 422 on
// PatchOptions.meta.k8s.io; nil if name is valid.
func ValidateManager(name string, apply bool) error {
	return ValidateManagerOptions("PatchOptions", name, apply)
}

// ValidateManagerOptions is ValidateManager for the options kind of the
// verb: "CreateOptions" for POST, "UpdateOptions" for PUT, "PatchOptions"
// for PATCH, which upstream names in the error.
func ValidateManagerOptions(optionsKind, name string, apply bool) error {
	path := field.NewPath("fieldManager")
	var errs field.ErrorList
	if apply && name == "" {
		// kubectl defaults it to "kubectl"; controllers must set it.
		errs = append(errs, field.Required(path, "is required for apply patch"))
	}
	errs = append(errs, validation.ValidateFieldManager(name, path)...)
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: optionsKind}, "", errs)
}
