package demo

import (
	"hash/fnv"
	"net/http"
	"strings"
	"time"
)

// WishlistPrefix is the path of the demo's Wishlist module, the part being moved out of the monolith:
// GET /api/wishlist/<user> answers with that user's wishlist. Both the monolith and the extracted wishlist service
// serve it, so a gateway can shadow one with the other and compare (docs/migration.md).
const WishlistPrefix = "/api/wishlist/"

// MonolithService is the demo service that plays the monolith: an instance of it answers every path, the
// Wishlist module included.
const MonolithService = "monolith"

// wishlistItem is one entry of a wishlist.
type wishlistItem struct {
	SKU  string `json:"sku"`
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

// monolithWishlist is the monolith's answer; its field order is the monolith's.
type monolithWishlist struct {
	User      string         `json:"user"`
	Items     []wishlistItem `json:"items"`
	Count     int            `json:"count"`
	ServedBy  string         `json:"served_by"`
	UpdatedAt string         `json:"updated_at"`
}

// serviceWishlist is the extracted service's answer: the same fields in another order (a structural comparison
// treats that as equal), and one deliberate porting bug for the walkthrough to find: an empty wishlist is encoded
// as null instead of [] (a nil Go slice).
type serviceWishlist struct {
	Count     int            `json:"count"`
	Items     []wishlistItem `json:"items"`
	User      string         `json:"user"`
	UpdatedAt string         `json:"updated_at"`
	ServedBy  string         `json:"served_by"`
}

var catalog = []wishlistItem{
	{"TENT-2", "Two-person tent", 1}, {"KAYAK-1", "Sea kayak", 1}, {"PADDLE-9", "Carbon paddle", 2},
	{"STOVE-3", "Camping stove", 1}, {"LAMP-7", "Head lamp", 3}, {"BAG-4", "Sleeping bag", 2},
}

// wishlistFor is a user's wishlist: 0 to 3 catalogue items chosen by a hash of the name, so every instance of
// either service answers the same user the same way (about one user in four has an empty wishlist).
func wishlistFor(user string) []wishlistItem {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	sum := int(h.Sum32() % 1024)
	var items []wishlistItem
	for i := range sum % 4 {
		items = append(items, catalog[(sum/4+i)%len(catalog)])
	}
	return items
}

// isWishlist reports whether r is a request for the Wishlist module that this instance serves.
func (h *handler) isWishlist(r *http.Request) bool {
	return (h.inst.Service == MonolithService || h.inst.Service == "wishlist") &&
		strings.HasPrefix(r.URL.Path, WishlistPrefix) && len(r.URL.Path) > len(WishlistPrefix)
}

// wishlist answers GET /api/wishlist/<user> the way this instance's service does.
func (h *handler) wishlist(w http.ResponseWriter, r *http.Request) {
	user := strings.Trim(strings.TrimPrefix(r.URL.Path, WishlistPrefix), "/")
	items := wishlistFor(user)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if h.inst.Service == MonolithService {
		if items == nil {
			items = []wishlistItem{}
		}
		writeJSON(w, http.StatusOK, monolithWishlist{User: user, Items: items, Count: len(items), ServedBy: h.inst.Name,
			UpdatedAt: now})
		return
	}
	writeJSON(w, http.StatusOK, serviceWishlist{Count: len(items), Items: items, User: user, UpdatedAt: now,
		ServedBy: h.inst.Name})
}
